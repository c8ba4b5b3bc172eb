"""`cimtwin sensors ...` and `cimtwin ingest mqtt ...`: thin wrappers over the metrics
runtime (registration, bulk files, the MQTT subscriber). server/cli.py adds them."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import signal
import threading
import time

from server.config import CLASSIFICATIONS
from server.services import Services

#: Both payload conventions of docs/metrics.md (cimtwin's own and SensorThings MQTT).
DEFAULT_TOPICS = ("cimtwin/+/+", "v1.1/+/Observations")


def cmd_sensors_add(args, services: Services) -> int:
    item = {"id": args.id, "name": args.name, "kind": args.kind,
            "classification": args.classification,
            "location": {"lon": args.lon, "lat": args.lat, "height": args.height},
            "datastreams": [{"metric": m.strip(), "sampling_s": args.sampling_s}
                            for m in args.metrics.split(",") if m.strip()]}
    if args.feature_id:
        item["feature"] = {"type": args.feature_type, "id": args.feature_id,
                           "layer": args.feature_layer}
    result = services.metrics.register([item], default_rules=args.default_rules)
    print(json.dumps(result) if args.json else
          f"registered sensor {args.id} with {result['datastreams']} datastream(s)")
    return 0


def cmd_sensors_import(args, services: Services) -> int:
    from server.metrics.sensor_files import read_sensor_file
    items = read_sensor_file(args.file)
    result = services.metrics.register(items, default_classification=args.classification,
                                       default_rules=args.default_rules)
    print(json.dumps(result) if args.json else
          f"registered {result['sensors']} sensors, {result['datastreams']} datastreams "
          f"from {args.file}")
    return 0


def cmd_sensors_list(args, services: Services) -> int:
    sensors = services.metrics.sensors(set(CLASSIFICATIONS))
    if args.json:
        print(json.dumps(sensors, ensure_ascii=False))
        return 0
    for s in sensors:
        metrics = ",".join(d["metric"] for d in s["datastreams"])
        print(f"{s['id']:24} {s['classification']:10} {metrics:30} {s['name']}")
    return 0


def cmd_ingest_mqtt(args, services: Services) -> int:
    from server.metrics.mqtt_ingest import MqttIngest
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    metrics = services.metrics

    def validate(item: dict):
        return metrics.parser.parse(item, int(time.time() * 1000), metrics.oldest_ms())[0]
    subscriber = MqttIngest(args.broker, args.topic or list(DEFAULT_TOPICS), validate,
                            metrics.ingest_observations, client_id=args.client_id or "",
                            username=os.environ.get("CIMTWIN_MQTT_USERNAME"),
                            password=os.environ.get("CIMTWIN_MQTT_PASSWORD"))
    deadline = time.monotonic() + args.seconds if args.seconds else None
    stopping = threading.Event()
    # systemd and docker stop with SIGTERM: end the loop so the pending batch is stored
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    subscriber.run(report_s=args.report_s,
                   until=lambda: stopping.is_set() or (
                       deadline is not None and time.monotonic() >= deadline))
    print(json.dumps(vars(subscriber.stats)), flush=True)
    return 0


def _sensor_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--classification", choices=CLASSIFICATIONS,
                   help="who may see its readings (anonymous users see public only)")
    p.add_argument("--default-rules", action="store_true",
                   help="add alarm rules from the metrics' built-in thresholds")
    p.add_argument("--json", action="store_true")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `sensors add|import|list` and `ingest mqtt` to the `cimtwin` parser."""
    sensors = sub.add_parser("sensors", help="register and list sensors").add_subparsers(
        dest="action", required=True)
    p = sensors.add_parser("add", help="register one sensor and its datastreams")
    p.add_argument("--id", required=True)
    p.add_argument("--name")
    p.add_argument("--kind", default="sensor")
    p.add_argument("--metrics", required=True, help="comma-separated, e.g. pm25,pm10")
    p.add_argument("--lon", type=float)
    p.add_argument("--lat", type=float)
    p.add_argument("--height", type=float)
    p.add_argument("--sampling-s", type=float, help="expected seconds between readings")
    p.add_argument("--feature-type", choices=("facility", "building", "bim", "project"))
    p.add_argument("--feature-id", help="id (or BIM GlobalId) of the feature it is attached to")
    p.add_argument("--feature-layer", help="layer or tileset holding that feature")
    _sensor_flags(p)
    p.set_defaults(func=cmd_sensors_add, classification="internal")
    p = sensors.add_parser("import", help="register sensors from a CSV or GeoJSON file")
    p.add_argument("file")
    _sensor_flags(p)
    p.set_defaults(func=cmd_sensors_import)
    p = sensors.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sensors_list)

    ingest = sub.add_parser("ingest", help="ingest live readings").add_subparsers(
        dest="source", required=True)
    p = ingest.add_parser("mqtt", help="subscribe to an MQTT broker and store readings")
    p.add_argument("--broker", required=True, help="mqtt://HOST:PORT")
    p.add_argument("--topic", action="append",
                   help=f"topic filter, repeatable (default: {' and '.join(DEFAULT_TOPICS)})")
    p.add_argument("--client-id")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    p.add_argument("--report-s", type=float, default=60.0, help="seconds between counter logs")
    p.set_defaults(func=cmd_ingest_mqtt)
