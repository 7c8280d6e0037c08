// An ESP32 air-quality station publishing to the IOC over MQTT, with the
// PubSubClient library (Arduino Library Manager: "PubSubClient" by Nick
// O'Leary) and the ESP32 core's WiFi. Not built by the test suite: it is
// the same JSON the other examples send, on the same topic.
//
// PubSubClient publishes at QoS 0 only: a reading lost on the way is not
// sent again. Send "ts" (unix milliseconds, from NTP) so a reading sent
// late is stored at the right time; a device that must not lose readings
// should use an MQTT client with QoS 1 (e.g. esp-mqtt in ESP-IDF).
#include <WiFi.h>
#include <PubSubClient.h>
#include <time.h>

const char *WIFI_SSID = "...";
const char *WIFI_PASS = "...";
const char *MQTT_HOST = "ioc.example.vn"; // the operations centre's broker
const int MQTT_PORT = 1883;               // 8883 with TLS (WiFiClientSecure)
const char *USERNAME = "envsense";        // your account from the operations centre
const char *PASSWORD = "...";
const char *DEVICE = "aq-tp-01";          // as registered
// ioc/v1/<integrator>/<device>/telemetry; errors come on ioc/v1/<integrator>/_errors
const String TOPIC = String("ioc/v1/") + USERNAME + "/" + DEVICE + "/telemetry";
const String STATUS = String("ioc/v1/") + USERNAME + "/" + DEVICE + "/status";

WiFiClient net;
PubSubClient mqtt(net);

void connect() {
  while (!mqtt.connected()) {
    // A client id of your own; the last will tells the IOC at once when
    // the station drops off (a status state=offline on its own topic).
    String id = String(USERNAME) + "-" + DEVICE;
    if (mqtt.connect(id.c_str(), USERNAME, PASSWORD, STATUS.c_str(), 1, false, "{\"state\":\"offline\"}")) {
      mqtt.publish(STATUS.c_str(), "{\"state\":\"online\"}");
    } else {
      delay(5000); // mqtt.state() says why: 4 bad credentials, 5 not authorised
    }
  }
}

void setup() {
  WiFi.begin(WIFI_SSID, WIFI_PASS);
  while (WiFi.status() != WL_CONNECTED) delay(500);
  configTime(0, 0, "pool.ntp.org"); // or the province's own NTP server
  mqtt.setServer(MQTT_HOST, MQTT_PORT);
}

void loop() {
  connect();
  mqtt.loop();
  static unsigned long last = 0;
  if (millis() - last >= 60000) {
    last = millis();
    float pm25 = 35.2, temp = 31.5; // read your sensor here
    char body[128];
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    unsigned long long ts = (unsigned long long)tv.tv_sec * 1000ULL + tv.tv_usec / 1000;
    snprintf(body, sizeof body, "{\"ts\": %llu, \"pm25\": %.1f, \"temp\": %.1f}", ts, pm25, temp);
    mqtt.publish(TOPIC.c_str(), body);
  }
}
