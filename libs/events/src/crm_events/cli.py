"""`crm-events`: operator commands for the event plumbing.

crm-events topics create                    create every topic and DLQ (idempotent)
crm-events dlq list TOPIC.dlq               show dead letters with their errors
crm-events dlq replay TOPIC.dlq --partition P --offset O [--value-file F]
                                            republish one dead letter to its topic
crm-events schemas export DIR               write the JSON Schema of every event
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from crm_events import asyncapi as asyncapi_document
from crm_events.catalog import render_markdown
from crm_events.dlq import read_dead_letters, replay
from crm_events.kafka import ensure_topics
from crm_events.schema_export import export_schemas


def _bootstrap(args: argparse.Namespace) -> str:
    return str(args.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))


async def _dlq_list(args: argparse.Namespace) -> int:
    letters = await read_dead_letters(_bootstrap(args), args.topic)
    for d in letters:
        print(
            json.dumps(
                {
                    "partition": d.partition,
                    "offset": d.offset,
                    "event_id": d.event_id,
                    "original_topic": d.headers.get("dlq.original.topic"),
                    "reason": d.headers.get("dlq.reason"),
                    "error": d.headers.get("dlq.error.message"),
                    "consumer": d.headers.get("dlq.consumer"),
                    "failed_at": d.headers.get("dlq.failed_at"),
                }
            )
        )
    print(f"{len(letters)} dead letter(s) in {args.topic}", file=sys.stderr)
    return 0


async def _dlq_replay(args: argparse.Namespace) -> int:
    letters = await read_dead_letters(_bootstrap(args), args.topic)
    match = [d for d in letters if d.partition == args.partition and d.offset == args.offset]
    if not match:
        print(
            f"no dead letter at {args.topic} partition {args.partition} offset {args.offset}",
            file=sys.stderr,
        )
        return 1
    value = Path(args.value_file).read_bytes() if args.value_file else None  # noqa: ASYNC240
    await replay(_bootstrap(args), match[0], value=value)
    print(
        f"replayed {args.topic}:{args.partition}@{args.offset} to {match[0].original_topic}",
        file=sys.stderr,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="crm-events", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bootstrap",
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    sub = parser.add_subparsers(dest="group", required=True)

    topics = sub.add_parser("topics").add_subparsers(dest="cmd", required=True)
    create = topics.add_parser("create")
    create.add_argument("--partitions", type=int, default=6)

    dlq = sub.add_parser("dlq").add_subparsers(dest="cmd", required=True)
    ls = dlq.add_parser("list")
    ls.add_argument("topic")
    rp = dlq.add_parser("replay")
    rp.add_argument("topic")
    rp.add_argument("--partition", type=int, required=True)
    rp.add_argument("--offset", type=int, required=True)
    rp.add_argument("--value-file", help="replay this corrected JSON instead of the original")

    schemas = sub.add_parser("schemas").add_subparsers(dest="cmd", required=True)
    exp = schemas.add_parser("export")
    exp.add_argument("directory")

    sub.add_parser("catalog")
    asyncapi = sub.add_parser("asyncapi", help="the AsyncAPI 3.0 document (JSON)")
    asyncapi.add_argument("--service", help="one service's channels (default: all)")

    args = parser.parse_args(argv)
    if args.group == "catalog":
        print(render_markdown())
        return 0
    if args.group == "asyncapi":
        sys.stdout.write(asyncapi_document.render(args.service))
        return 0
    if args.group == "topics":
        asyncio.run(ensure_topics(_bootstrap(args), partitions=args.partitions))
        return 0
    if args.group == "dlq" and args.cmd == "list":
        return asyncio.run(_dlq_list(args))
    if args.group == "dlq" and args.cmd == "replay":
        return asyncio.run(_dlq_replay(args))
    if args.group == "schemas":
        written = export_schemas(Path(args.directory))
        print(f"wrote {len(written)} schema(s) to {args.directory}", file=sys.stderr)
        return 0
    parser.error("unknown command")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
