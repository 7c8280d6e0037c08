#!/usr/bin/env python3
"""Publish one reading as an integrator would, and watch _errors.

Uses Debian's python3-paho-mqtt (1.6 or 2.x). Settings from the environment:
IOC_MQTT_HOST (127.0.0.1), IOC_MQTT_PORT (1883), IOC_USERNAME, IOC_PASSWORD,
IOC_INTEGRATOR (= IOC_USERNAME), IOC_DEVICE.

It subscribes to ioc/v1/<integrator>/_errors, publishes a good reading
(QoS 1: PUBACK means stored) and a reading with a wrong type, prints the
report ingest sends back for the second, and exits 0 once it has it.
"""
import json
import os
import sys
import threading

import paho.mqtt.client as mqtt

host = os.environ.get("IOC_MQTT_HOST", "127.0.0.1")
port = int(os.environ.get("IOC_MQTT_PORT", "1883"))
user = os.environ["IOC_USERNAME"]
password = os.environ["IOC_PASSWORD"]
integrator = os.environ.get("IOC_INTEGRATOR", user)
device = os.environ["IOC_DEVICE"]
topic = f"ioc/v1/{integrator}/{device}/telemetry"
errors_topic = f"ioc/v1/{integrator}/_errors"

subscribed = threading.Event()
report = threading.Event()


def on_connect(client, userdata, flags, rc, *args):
    if rc != 0:
        sys.exit(f"connect refused: {rc}")
    client.subscribe(errors_topic, qos=1)


def on_subscribe(client, userdata, mid, granted, *args):
    subscribed.set()


def on_message(client, userdata, msg):
    r = json.loads(msg.payload)
    if r.get("device") == device:
        print(f"refused: {r['reason']}: {r['error']}")
        report.set()


# A client id of your own: <integrator>-<something stable>.
kwargs = {"client_id": f"{integrator}-example-py", "clean_session": True}
if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
    kwargs["callback_api_version"] = mqtt.CallbackAPIVersion.VERSION1
client = mqtt.Client(**kwargs)
client.username_pw_set(user, password)
client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
client.connect(host, port, keepalive=30)
client.loop_start()
if not subscribed.wait(10):
    sys.exit("no SUBACK for _errors")

info = client.publish(topic, json.dumps({"pm25": 35.2, "temp": 31.5}), qos=1)
info.wait_for_publish()
print(f"stored: {topic}")
client.publish(topic, json.dumps({"pm25": "high"}), qos=1).wait_for_publish()
if not report.wait(20):
    sys.exit("no report on _errors")
client.disconnect()
client.loop_stop()
