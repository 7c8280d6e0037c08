package alert

import (
	"fmt"
	"text/template"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	xnumber "golang.org/x/text/number"
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
// the way lang does (vi-VN "1.500" and "23,8"; en "1,500" and "23.8").
func templateFuncs(lang string) template.FuncMap {
	p := numberPrinter(lang)
	return template.FuncMap{
		"event": func(v any) string {
			s := fmt.Sprint(v)
			if n, ok := eventNames[lang][s]; ok {
				return n
			}
			return s
		},
		"num": func(v any) string { return number(p, v) },
	}
}

// number writes v with at most two decimals, grouped and with lang's
// decimal mark: "1.500", "12,5" in Vietnamese; "1,500", "12.5" in English.
// Anything not a number is written as it is.
// p is lang's printer (numberPrinter).
func number(p *message.Printer, v any) string {
	switch v.(type) {
	case float64, float32, int, int64, int32, uint, uint64, uint32:
	default:
		return fmt.Sprint(v)
	}
	return p.Sprint(xnumber.Decimal(v, xnumber.MaxFractionDigits(2)))
}

// numberPrinter writes numbers the way lang does, with CLDR's marks
// (golang.org/x/text): vi-VN groups thousands with a point and writes
// decimals with a comma, English the other way round.
func numberPrinter(lang string) *message.Printer {
	if lang == "vi" {
		return message.NewPrinter(language.Vietnamese)
	}
	return message.NewPrinter(language.English)
}
