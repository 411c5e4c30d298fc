CREATE TABLE `issued_tokens` (
	`tenant` text NOT NULL,
	`token_id` text NOT NULL,
	`expires_at` integer NOT NULL,
	`issued_at` integer NOT NULL,
	PRIMARY KEY(`tenant`, `token_id`)
);
--> statement-breakpoint
CREATE INDEX `issued_tokens_expiry` ON `issued_tokens` (`expires_at`);