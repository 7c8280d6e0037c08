"""Conformance scenarios with Debian's python3-paho-mqtt (1.6).

Usage: python3 conformance.py HOST PORT [3.1.1|5]. Prints one line per
scenario and exits 1 if any failed. Every wait is bounded (10 s).
"""
import queue
import sys
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HOST, PORT = sys.argv[1], int(sys.argv[2])
V5 = len(sys.argv) > 3 and sys.argv[3] == "5"
RUN = uuid.uuid4().hex[:8]


def client(cid, clean=True):
    q = queue.Queue()
    cid = f"py{'5' if V5 else '3'}-{cid}-{RUN}"
    if V5:
        c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean else 300
        connect = lambda: c.connect(HOST, PORT, keepalive=30, clean_start=clean, properties=props)
    else:
        c = mqtt.Client(client_id=cid, clean_session=clean, protocol=mqtt.MQTTv311)
        connect = lambda: c.connect(HOST, PORT, keepalive=30)
    c.on_message = lambda _c, _u, m: q.put(m)
    c.subacks = queue.Queue()
    c.on_subscribe = lambda _c, _u, mid, *rest: c.subacks.put(mid)
    connect()
    c.loop_start()
    return c, q


def done(c):
    # DISCONNECT first, while the network loop still runs to send it: a
    # client stopped first leaves its session connected until keep-alive.
    c.disconnect()
    c.loop_stop()


def wait(info):
    info.wait_for_publish(timeout=10)
    if not info.is_published():
        raise AssertionError("publish not acknowledged within 10 s")


def sub(c, topic, qos):
    # Waits for the SUBACK: until then the broker may not have the
    # subscription, and a message published meanwhile is not for it.
    rc, mid = c.subscribe(topic, qos)
    if rc != mqtt.MQTT_ERR_SUCCESS:
        raise AssertionError(f"subscribe {topic}: rc {rc}")
    while c.subacks.get(timeout=10) != mid:
        pass


def until(q, barrier):
    got = []
    while True:
        m = q.get(timeout=10)
        if m.topic == barrier:
            return got
        got.append(m)


def qos2():
    c, q = client("q2")
    t = f"pyconf/{RUN}/q2"
    sub(c, t + "/#", 2)
    wait(c.publish(t + "/a", b"exactly-once", qos=2))
    wait(c.publish(t + "/end", b"", qos=2))
    got = until(q, t + "/end")
    done(c)
    assert len(got) == 1 and got[0].payload == b"exactly-once" and got[0].qos == 2, [(m.topic, m.qos) for m in got]


def retained():
    t = f"pyconf/{RUN}/ret"
    p, _ = client("ret-pub")
    wait(p.publish(t, b"kept", qos=1, retain=True))
    s, q = client("ret-sub1")
    sub(s, t, 1)
    sub(s, t + "/end", 1)
    wait(s.publish(t + "/end", b"", qos=1))
    got = until(q, t + "/end")
    assert len(got) == 1 and got[0].payload == b"kept" and got[0].retain, [(m.topic, m.payload) for m in got]
    wait(p.publish(t, b"", qos=1, retain=True))
    s2, q2 = client("ret-sub2")
    sub(s2, t, 1)
    sub(s2, t + "/end", 1)
    wait(s2.publish(t + "/end", b"", qos=1))
    got = until(q2, t + "/end")
    for c in (p, s, s2):
        done(c)
    assert not got, [(m.topic, m.payload) for m in got]


def unsubscribe():
    t = f"pyconf/{RUN}/unsub"
    c, q = client("unsub")
    sub(c, t, 1)
    sub(c, t + "/end", 1)
    rc, _ = c.unsubscribe(t)
    assert rc == mqtt.MQTT_ERR_SUCCESS, rc
    wait(c.publish(t, b"after", qos=1))
    wait(c.publish(t + "/end", b"", qos=1))
    got = until(q, t + "/end")
    done(c)
    assert not got, [(m.topic, m.payload) for m in got]


def offline():
    t = f"pyconf/{RUN}/offline"
    s, _ = client("off-sub", clean=False)
    sub(s, t + "/#", 1)
    done(s)
    p, _ = client("off-pub")
    for i in range(3):
        wait(p.publish(t + "/m", str(i).encode(), qos=1))
    wait(p.publish(t + "/end", b"", qos=1))
    # A broker may acknowledge before it routes (mochi does): the next
    # publish's PUBACK shows the end marker is queued for the session.
    wait(p.publish(f"pyconf/{RUN}/fence", b"", qos=1))
    done(p)
    back, q = client("off-sub", clean=False)
    got = until(q, t + "/end")
    back.unsubscribe(t + "/#")
    done(back)
    assert [m.payload for m in got] == [b"0", b"1", b"2"], [m.payload for m in got]


failed = 0
for name, fn in [("qos2 in and out", qos2), ("retained set and clear", retained),
                 ("unsubscribe", unsubscribe), ("offline queueing", offline)]:
    try:
        fn()
        print(f"PASS {name}")
    except Exception as e:  # report every scenario, then fail
        failed += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}")
sys.exit(1 if failed else 0)
