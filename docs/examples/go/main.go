// Command example publishes one reading as an integrator would, with the Go
// paho client, and watches _errors.
//
//	go run ./docs/examples/go
//
// Settings from the environment: IOC_MQTT_HOST (127.0.0.1), IOC_MQTT_PORT
// (1883), IOC_USERNAME, IOC_PASSWORD, IOC_INTEGRATOR (= IOC_USERNAME),
// IOC_DEVICE. It subscribes to ioc/v1/<integrator>/_errors, publishes a good
// reading (QoS 1: the PUBACK means stored) and a reading with a wrong type,
// prints the report ingest sends back for the second, and exits 0 once it
// has it.
package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

type report struct {
	Device string `json:"device"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	user, device := os.Getenv("IOC_USERNAME"), os.Getenv("IOC_DEVICE")
	integrator := cmp.Or(os.Getenv("IOC_INTEGRATOR"), user)
	broker := fmt.Sprintf("tcp://%s:%s", cmp.Or(os.Getenv("IOC_MQTT_HOST"), "127.0.0.1"), cmp.Or(os.Getenv("IOC_MQTT_PORT"), "1883"))
	topic := "ioc/v1/" + integrator + "/" + device + "/telemetry"

	opts := paho.NewClientOptions().AddBroker(broker).
		SetClientID(integrator + "-example-go"). // a client id of your own
		SetUsername(user).SetPassword(os.Getenv("IOC_PASSWORD")).
		SetCleanSession(true).SetAutoReconnect(false)
	c := paho.NewClient(opts)
	if t := c.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return fmt.Errorf("connect: %v", t.Error())
	}
	defer c.Disconnect(250)

	refused := make(chan report, 1)
	sub := c.Subscribe("ioc/v1/"+integrator+"/_errors", 1, func(_ paho.Client, m paho.Message) {
		var r report
		if json.Unmarshal(m.Payload(), &r) == nil && r.Device == device {
			select {
			case refused <- r:
			default:
			}
		}
	})
	if !sub.WaitTimeout(10*time.Second) || sub.Error() != nil {
		return fmt.Errorf("subscribe to _errors: %v", sub.Error())
	}
	// QoS 1: Wait returns once the PUBACK came, when the data is stored.
	if t := c.Publish(topic, 1, false, `{"pm25": 35.2, "temp": 31.5}`); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return fmt.Errorf("publish: %v", t.Error())
	}
	fmt.Println("stored:", topic)
	c.Publish(topic, 1, false, `{"pm25": "high"}`).WaitTimeout(10 * time.Second)
	select {
	case r := <-refused:
		fmt.Printf("refused: %s: %s\n", r.Reason, r.Error)
		return nil
	case <-time.After(20 * time.Second):
		return fmt.Errorf("no report on _errors")
	}
}
