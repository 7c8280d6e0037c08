package alert

import (
	"strings"
	"testing"
	"text/template"
)

// TestNumInMessages: {{num .Value}} writes a number the way the message's
// language does: vi-VN groups thousands with a point and writes decimals
// with a comma ("1.500", "12,5"), English the other way round.
func TestNumInMessages(t *testing.T) {
	for _, c := range []struct {
		v      any
		vi, en string
	}{
		{1500.0, "1.500", "1,500"},
		{12.5, "12,5", "12.5"},
		{1500.567, "1.500,57", "1,500.57"},
		{23.8, "23,8", "23.8"},
		{-3.25, "-3,25", "-3.25"},
		{0.1, "0,1", "0.1"},
		{100.004, "100", "100"},
		{1234567, "1.234.567", "1,234,567"},
		{int64(2048), "2.048", "2,048"},
		{999.0, "999", "999"},
		{"29/57", "29/57", "29/57"}, // not a number: as it is
	} {
		for lang, want := range map[string]string{"vi": c.vi, "en": c.en} {
			tpl := template.Must(template.New("m").Funcs(templateFuncs(lang)).Parse("ngoài thang đo: {{num .}}"))
			var b strings.Builder
			if err := tpl.Execute(&b, c.v); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimPrefix(b.String(), "ngoài thang đo: "); got != want {
				t.Errorf("%s: num %v = %q, want %q", lang, c.v, got, want)
			}
		}
	}
}
