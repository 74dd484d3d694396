"""Independent Kafka client for the pipeline tests: produces customer
messages as CloudEvents (fte.inbound.v1) to the channel inbound topics with
confluent-kafka (librdkafka's Python binding, not this project's code).

usage: produce_inbound.py BROKERS PREFIX TENANT CUSTOMERS MESSAGES
Customer i sends messages c<i>-m0 .. c<i>-m<MESSAGES-1>, in order, by
email from c<i>@example.com (keyed by the address, so in one partition).
Prints the number of records acknowledged.
"""
import json
import sys
import uuid
from datetime import datetime, timezone

from confluent_kafka import Producer


def main() -> int:
    brokers, prefix, tenant, customers, messages = sys.argv[1:6]
    customers, messages = int(customers), int(messages)
    producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    acked = 0
    failed = []

    def on_delivery(err, _msg):
        nonlocal acked
        if err is None:
            acked += 1
        else:
            failed.append(str(err))

    topic = f"{prefix}fte.channels.email.inbound"
    for m in range(messages):
        for c in range(customers):
            address = f"c{c}@example.com"
            now = datetime.now(timezone.utc).isoformat()
            data = {
                "tenant_id": tenant,
                "channel": "email",
                "external_id": f"c{c}-m{m}",
                "sender": {"kind": "email", "value": address},
                "identifiers": [],
                "subject": "Question",
                "body": f"message {m} from customer {c}",
                "received_at": now,
            }
            event = {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "/tests/produce_inbound.py",
                "type": "fte.inbound.v1",
                "time": now,
                "subject": address,
                "datacontenttype": "application/json",
                "tenantid": tenant,
                "data": data,
            }
            producer.produce(topic, key=address, value=json.dumps(event), on_delivery=on_delivery)
            producer.poll(0)
    producer.flush(60)
    if failed:
        print(f"failed: {failed[:3]}", file=sys.stderr)
        return 1
    print(acked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
