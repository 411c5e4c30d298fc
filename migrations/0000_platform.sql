CREATE TABLE `resources` (
	`tenant` text NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`config` text NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `resources_tenant_kind_name` ON `resources` (`tenant`,`kind`,`name`);--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `token_revocations` (
	`tenant` text NOT NULL,
	`token_id` text NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer NOT NULL,
	PRIMARY KEY(`tenant`, `token_id`)
);
--> statement-breakpoint
CREATE INDEX `token_revocations_expiry` ON `token_revocations` (`expires_at`);