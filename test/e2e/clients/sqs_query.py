"""SQS's query protocol driven by boto3 (a release whose SQS model speaks query: form
`Action=...` requests, XML responses). Run with a scenario name; prints one JSON object
with what the scenario observed, for the e2e test to assert on. Environment: SQS_ENDPOINT,
SQS_KEY_ID, SQS_SECRET, SQS_TENANT, SQS_PREFIX (a unique queue name prefix)."""
import base64
import hashlib
import json
import os
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

ENDPOINT = os.environ["SQS_ENDPOINT"]
KEY_ID = os.environ["SQS_KEY_ID"]
SECRET = os.environ["SQS_SECRET"]
TENANT = os.environ["SQS_TENANT"]
PREFIX = os.environ["SQS_PREFIX"]
NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"

content_types = set()


def client(secret=SECRET):
    sqs = boto3.client(
        "sqs",
        region_name="auto",
        endpoint_url=ENDPOINT,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=secret,
    )
    def record(request, **_):
        value = request.headers.get("Content-Type", "")
        content_types.add(value.decode() if isinstance(value, bytes) else value)

    sqs.meta.events.register("before-send.sqs.*", record)
    return sqs


def md5_of_attributes(attributes):
    """SQS's MD5OfMessageAttributes, computed independently of the server."""
    digest = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]
        for part in (name, value["DataType"]):
            data = part.encode()
            digest.update(struct.pack(">I", len(data)) + data)
        if "BinaryValue" in value:
            data = value["BinaryValue"]
            digest.update(b"\x02" + struct.pack(">I", len(data)) + data)
        else:
            data = value["StringValue"].encode()
            digest.update(b"\x01" + struct.pack(">I", len(data)) + data)
    return digest.hexdigest()


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def error_of(call):
    try:
        call()
    except ClientError as error:
        return {
            "code": error.response["Error"]["Code"],
            "type": error.response["Error"].get("Type"),
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
        }
    return None


def signed(method, url, params):
    """A raw query request signed with botocore's SigV4 signer (actions older boto3 lacks)."""
    body = urllib.parse.urlencode(params) if method == "POST" else None
    if method == "GET":
        url = f"{url}?{urllib.parse.urlencode(params)}"
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(KEY_ID, SECRET), "sqs", "auto").add_auth(request)
    prepared = urllib.request.Request(url, data=body.encode() if body else None, method=method,
                                      headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared) as response:
            return response.status, ET.fromstring(response.read())
    except urllib.error.HTTPError as error:
        return error.code, ET.fromstring(error.read())


def text(root, path):
    found = root.find("/".join(NS + part for part in path.split("/")))
    return None if found is None else found.text


def scenario_messages():
    sqs = client()
    url = sqs.create_queue(
        QueueName=f"{PREFIX}-std",
        Attributes={"VisibilityTimeout": "30", "DelaySeconds": "0"},
        tags={"team": "a&b"},
    )["QueueUrl"]
    body = "<hello & 'world'>\r\n\"quoted\" \u00e9\u6f22\U0001f600"
    attributes = {
        "s": {"DataType": "String", "StringValue": "x<y & z"},
        "n": {"DataType": "Number", "StringValue": "12.5"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "c": {"DataType": "String.custom", "StringValue": "custom"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    received = sqs.receive_message(
        QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"],
        MaxNumberOfMessages=10, WaitTimeSeconds=5,
    )["Messages"]
    message = received[0]
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "one", "MessageBody": "first", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "two", "MessageBody": "second", "DelaySeconds": 0},
        {"Id": "bad", "MessageBody": "third", "MessageAttributes": {"k": {"DataType": "Nope", "StringValue": "v"}}},
    ])
    two = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5)["Messages"]
    visibility = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": f"v{i}", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 60} for i, m in enumerate(two)
    ] + [{"Id": "junk", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 10}])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=120)
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(two)
    ] + [{"Id": "junk", "ReceiptHandle": "not-a-handle"}])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return {
        "contentTypes": sorted(content_types),
        "protocol": sqs.meta.service_model.protocol,
        "sent": {"md5Body": sent["MD5OfMessageBody"] == md5(body),
                 "md5Attributes": sent["MD5OfMessageAttributes"] == md5_of_attributes(attributes),
                 "id": sent["MessageId"]},
        "received": {
            "count": len(received),
            "bodySame": message["Body"] == body,
            "id": message["MessageId"],
            "md5Body": message["MD5OfBody"] == md5(body),
            "md5Attributes": message["MD5OfMessageAttributes"] == md5_of_attributes(message["MessageAttributes"]),
            "attributesSame": message["MessageAttributes"] == attributes,
            "system": sorted(message["Attributes"]),
            "receiveCount": message["Attributes"]["ApproximateReceiveCount"],
        },
        "batch": {
            "successful": sorted(entry["Id"] for entry in batch["Successful"]),
            "failed": [(entry["Id"], entry["Code"], entry["SenderFault"]) for entry in batch["Failed"]],
            "md5": all(entry["MD5OfMessageBody"] == md5({"one": "first", "two": "second"}[entry["Id"]])
                       for entry in batch["Successful"]),
        },
        "receivedBodies": sorted(m["Body"] for m in two),
        "visibility": {"successful": sorted(e["Id"] for e in visibility["Successful"]),
                       "failed": [(e["Id"], e["Code"]) for e in visibility["Failed"]]},
        "deleted": {"successful": sorted(e["Id"] for e in deleted["Successful"]),
                    "failed": [(e["Id"], e["Code"]) for e in deleted["Failed"]]},
        "after": {name: counts[name] for name in
                  ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "VisibilityTimeout")},
    }


def scenario_queues():
    sqs = client()
    name = f"{PREFIX}-q"
    url = sqs.create_queue(QueueName=name, Attributes={"ReceiveMessageWaitTimeSeconds": "2"})["QueueUrl"]
    same = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    listed = sqs.list_queues(QueueNamePrefix=PREFIX)["QueueUrls"]
    paged = sqs.list_queues(QueueNamePrefix=PREFIX, MaxResults=1)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5", "VisibilityTimeout": "45"})
    picked = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["DelaySeconds", "VisibilityTimeout", "ReceiveMessageWaitTimeSeconds", "QueueArn"])
    sqs.tag_queue(QueueUrl=url, Tags={"env": "test", "owner": "<me>"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
    sqs.send_message(QueueUrl=url, MessageBody="to purge")
    sqs.purge_queue(QueueUrl=url)
    purged = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                    "ApproximateNumberOfMessagesDelayed"])
    sqs.delete_queue(QueueUrl=url)
    return {
        "url": url, "same": same == url, "listed": url in listed,
        "paged": {"count": len(paged["QueueUrls"]), "hasNext": "NextToken" in paged},
        "attributes": picked["Attributes"], "tags": tags,
        "purged": purged["Attributes"],
        "gone": error_of(lambda: sqs.get_queue_url(QueueName=name)),
        "goneTyped": _raises(lambda: sqs.get_queue_url(QueueName=name), sqs.exceptions.QueueDoesNotExist),
    }


def _raises(call, kind):
    try:
        call()
    except kind:
        return True
    except Exception:  # noqa: BLE001 - any other failure is the answer "no"
        return False
    return False


def scenario_fifo():
    sqs = client()
    url = sqs.create_queue(QueueName=f"{PREFIX}-f.fifo",
                           Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    first = sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="b", MessageGroupId="g")
    again = sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g")
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "c", "MessageBody": "c", "MessageGroupId": "g", "MessageDeduplicationId": "dc"},
        {"Id": "d", "MessageBody": "d", "MessageGroupId": "h", "MessageDeduplicationId": "dd"},
    ])
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                   WaitTimeSeconds=5)["Messages"]
    return {
        "sequence": first["SequenceNumber"],
        "deduplicated": again["MessageId"] == first["MessageId"],
        "batchSequence": all(len(e["SequenceNumber"]) == 20 for e in batch["Successful"]),
        "bodies": [m["Body"] for m in received],
        "groups": [m["Attributes"]["MessageGroupId"] for m in received],
        "missingGroup": error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x")),
    }


def scenario_errors():
    sqs = client()
    url = sqs.create_queue(QueueName=f"{PREFIX}-e")["QueueUrl"]
    missing = url.rsplit("/", 1)[0] + "/no-such-queue"
    return {
        "nonExistent": error_of(lambda: sqs.send_message(QueueUrl=missing, MessageBody="x")),
        "otherTenant": error_of(lambda: sqs.send_message(
            QueueUrl=url.replace(f"/{TENANT}/", "/someone-else/"), MessageBody="x")),
        "badSignature": error_of(lambda: client(SECRET[:-1] + ("x" if SECRET[-1] != "x" else "y")).list_queues()),
        "duplicateIds": error_of(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}])),
        "tooMany": error_of(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": f"e{i}", "MessageBody": "x"} for i in range(11)])),
        "badReceipt": error_of(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="nope")),
        "badAttribute": error_of(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"Nope": "1"})),
        "badValue": error_of(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)),
        "stillEmpty": sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"],
    }


def scenario_redrive():
    sqs = client()
    arn = lambda name: f"arn:aws:sqs:auto:{TENANT}:{name}"  # noqa: E731
    dlq, source, stranger = f"{PREFIX}-dlq", f"{PREFIX}-src", f"{PREFIX}-other"
    dlq_url = sqs.create_queue(QueueName=dlq, Attributes={
        "RedriveAllowPolicy": json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn(source)]})})["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn(dlq), "maxReceiveCount": 1})
    source_url = sqs.create_queue(QueueName=source, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    refused = error_of(lambda: sqs.create_queue(QueueName=stranger, Attributes={"RedrivePolicy": policy}))
    stranger_exists = _raises(lambda: sqs.get_queue_url(QueueName=stranger), sqs.exceptions.QueueDoesNotExist)
    sqs.send_message(QueueUrl=source_url, MessageBody="poison")
    first = sqs.receive_message(QueueUrl=source_url, WaitTimeSeconds=5)["Messages"][0]
    sqs.change_message_visibility(QueueUrl=source_url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    dead = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=10, VisibilityTimeout=0).get("Messages", [])
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"]
    status, started = signed("POST", ENDPOINT, {"Action": "StartMessageMoveTask", "Version": "2012-11-05",
                                                "SourceArn": arn(dlq)})
    handle = text(started, "StartMessageMoveTaskResult/TaskHandle")
    back = sqs.receive_message(QueueUrl=source_url, WaitTimeSeconds=10).get("Messages", [])
    _, listed = signed("GET", ENDPOINT, {"Action": "ListMessageMoveTasks", "Version": "2012-11-05",
                                         "SourceArn": arn(dlq), "MaxResults": "10"})
    entries = listed.findall(f"{NS}ListMessageMoveTasksResult/{NS}ListMessageMoveTasksResultEntry")
    cancel_status, cancelled = signed("POST", ENDPOINT, {"Action": "CancelMessageMoveTask",
                                                         "Version": "2012-11-05", "TaskHandle": handle})
    sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes={
        "RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})})
    denied = error_of(lambda: sqs.set_queue_attributes(QueueUrl=source_url, Attributes={"RedrivePolicy": policy}))
    return {
        "refused": refused, "strangerCreated": not stranger_exists,
        "dead": [m["Body"] for m in dead], "sources": sources == [source_url],
        "started": status, "handle": bool(handle), "back": [m["Body"] for m in back],
        "tasks": [{child.tag.replace(NS, ""): child.text for child in entry} for entry in entries],
        "cancel": {"status": cancel_status, "code": text(cancelled, "Error/Code")},
        "denied": denied,
        "allowPolicy": sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["RedriveAllowPolicy"])[
            "Attributes"].get("RedriveAllowPolicy"),
    }


def scenario_raw():
    """Requests the SDK never makes: GET with a query string, a POST to the queue URL itself."""
    sqs = client()
    url = sqs.create_queue(QueueName=f"{PREFIX}-raw")["QueueUrl"]
    get_status, got = signed("GET", ENDPOINT, {"Action": "GetQueueUrl", "Version": "2012-11-05",
                                               "QueueName": f"{PREFIX}-raw"})
    post_status, sent = signed("POST", url, {"Action": "SendMessage", "Version": "2012-11-05",
                                             "MessageBody": "posted to the queue URL",
                                             "MessageAttribute.1.Name": "k",
                                             "MessageAttribute.1.Value.DataType": "String",
                                             "MessageAttribute.1.Value.StringValue": "v"})
    received = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["k"], WaitTimeSeconds=5)["Messages"]
    unknown_status, unknown = signed("POST", ENDPOINT, {"Action": "Nope", "Version": "2012-11-05"})
    return {
        "get": {"status": get_status, "url": text(got, "GetQueueUrlResult/QueueUrl") == url},
        "post": {"status": post_status, "md5": text(sent, "SendMessageResult/MD5OfMessageBody")
                 == md5("posted to the queue URL")},
        "received": [(m["Body"], m["MessageAttributes"]["k"]["StringValue"]) for m in received],
        "unknown": {"status": unknown_status, "code": text(unknown, "Error/Code"),
                    "type": text(unknown, "Error/Type")},
    }


if __name__ == "__main__":
    scenario = globals()[f"scenario_{sys.argv[1]}"]
    result = scenario()
    result["botocore"] = botocore.__version__
    print(json.dumps(result))
