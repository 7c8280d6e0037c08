// Hourly means of every numeric field into the long-term bucket (ioc_1h),
// as the embedded store's hourly rollups. setup.sh creates it as a task:
//   influx task create --org ioc -f configs/influxdb/downsample.flux
// InfluxDB 2.x (Flux 0.140+, for the types package).
import "types"

option task = {name: "ioc-downsample-1h", every: 1h, offset: 5m}

from(bucket: "ioc")
    |> range(start: -task.every)
    |> filter(fn: (r) => r._measurement == "telemetry" or r._measurement == "status")
    |> filter(fn: (r) => types.isType(v: r._value, type: "float") or types.isType(v: r._value, type: "int"))
    |> toFloat()
    |> aggregateWindow(every: 1h, fn: mean, createEmpty: false, timeSrc: "_start")
    |> to(bucket: "ioc_1h")
