// Publish one reading as an integrator would, and watch _errors.
//
// npm install (mqtt from npm), then: node publish.js. Settings from the
// environment: IOC_MQTT_HOST (127.0.0.1), IOC_MQTT_PORT (1883),
// IOC_USERNAME, IOC_PASSWORD, IOC_INTEGRATOR (= IOC_USERNAME), IOC_DEVICE.
//
// It subscribes to ioc/v1/<integrator>/_errors, publishes a good reading
// (QoS 1: PUBACK means stored) and a reading with a wrong type, prints the
// report ingest sends back for the second, and exits 0 once it has it.
const mqtt = require("mqtt");

const env = process.env;
const integrator = env.IOC_INTEGRATOR || env.IOC_USERNAME;
const device = env.IOC_DEVICE;
const topic = `ioc/v1/${integrator}/${device}/telemetry`;
const errorsTopic = `ioc/v1/${integrator}/_errors`;

const client = mqtt.connect({
  host: env.IOC_MQTT_HOST || "127.0.0.1",
  port: Number(env.IOC_MQTT_PORT || 1883),
  protocolVersion: 5, // refusals come with reason codes and strings
  clientId: `${integrator}-example-node`,
  username: env.IOC_USERNAME,
  password: env.IOC_PASSWORD,
  clean: true,
  reconnectPeriod: 0,
});

let done = false;
const fail = (why) => {
  if (done) return; // the connection closing after we are done
  console.error(why);
  process.exit(1);
};
const timer = setTimeout(() => fail("no report on _errors"), 20000);

client.on("error", (err) => fail(`MQTT: ${err.message}`));
client.on("message", (_t, payload) => {
  const r = JSON.parse(payload.toString());
  if (r.device !== device) return;
  console.log(`refused: ${r.reason}: ${r.error}`);
  done = true;
  clearTimeout(timer);
  client.end(false, {}, () => process.exit(0));
});
client.on("connect", async () => {
  try {
    await client.subscribeAsync(errorsTopic, { qos: 1 });
    await client.publishAsync(topic, JSON.stringify({ pm25: 35.2, temp: 31.5 }), { qos: 1 });
    console.log(`stored: ${topic}`);
    await client.publishAsync(topic, JSON.stringify({ pm25: "high" }), { qos: 1 });
  } catch (err) {
    fail(`publish: ${err.message}`);
  }
});
