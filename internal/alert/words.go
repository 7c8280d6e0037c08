package alert

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
)

// Message languages. A rule's message has a template for each.
var languages = []string{"vi", "en"}

// eventNames names, in each message language, the event types an
// integrator sends (docs/MQTT.md): a message says "phá hoại, che ống
// kính", never "tamper". An event rule may list only types named here in
// every language (ParseRules refuses others), so no raw type reaches an
// operator.
var eventNames = map[string]map[string]string{
	"vi": {
		"tamper":        "phá hoại, che ống kính",
		"intrusion":     "xâm nhập trái phép",
		"video_loss":    "mất tín hiệu hình ảnh",
		"scene_change":  "bị xoay hướng quay",
		"blur":          "hình ảnh bị mờ",
		"blocked":       "ống kính bị che khuất",
		"freeze":        "hình ảnh bị đóng băng",
		"motion":        "phát hiện chuyển động",
		"door":          "cửa bị mở",
		"overflow":      "tràn bộ nhớ đệm",
		"record_failed": "ghi hình thất bại",
	},
	"en": {
		"tamper":        "tampering",
		"intrusion":     "intrusion",
		"video_loss":    "video loss",
		"scene_change":  "camera turned away",
		"blur":          "blurred image",
		"blocked":       "lens blocked",
		"freeze":        "frozen image",
		"motion":        "motion",
		"door":          "door opened",
		"overflow":      "buffer overflow",
		"record_failed": "recording failed",
	},
}

// templateFuncs are what a message template in lang may call:
// {{event .Value}} names an event type, {{num .Value}} writes a number
// the way lang does (vi: decimal comma, "23,8").
func templateFuncs(lang string) template.FuncMap {
	return template.FuncMap{
		"event": func(v any) string {
			s := fmt.Sprint(v)
			if n, ok := eventNames[lang][s]; ok {
				return n
			}
			return s
		},
		"num": func(v any) string { return number(lang, v) },
	}
}

// number writes v with at most two decimals, with lang's decimal mark.
func number(lang string, v any) string {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	default:
		return fmt.Sprint(v)
	}
	s := strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
	if lang == "vi" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}
