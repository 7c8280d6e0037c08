package notify

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/registry"
)

// words are what a message says, in each language. Vietnamese is the
// default: the people told are technicians and leaders of the province.
var words = map[string]map[string]string{
	"vi": {
		"critical": "Nghiêm trọng", "major": "Cao", "minor": "Trung bình", "info": "Thông tin",
		"raised":          "Cảnh báo mới",
		"unacknowledged":  "Chưa ai xác nhận sau %s",
		"unresolved":      "Chưa khắc phục sau %s",
		"assigned":        "Giao việc",
		"assigned_by":     "Giao bởi %s lúc %s",
		"assign_note":     "Ghi chú: %s",
		"ack_overdue":     "Quá hạn xác nhận (%s)",
		"restore_overdue": "Quá hạn khắc phục (%s)",
		"due":             "Hạn: %s",
		"acknowledged":    "Đã xác nhận",
		"resolved":        "Đã khắc phục",
		"device":          "Thiết bị",
		"place":           "Địa bàn",
		"since":           "Bắt đầu",
		"ack_by":          "Đã xác nhận bởi %s lúc %s",
		"resolved_auto":   "Đã trở lại bình thường lúc %s, sau %s",
		"resolved_by":     "Đã xử lý xong bởi %s lúc %s, sau %s",
		"open":            "Xem trên điện thoại",
		"flaps":           "chập chờn %d lần",
		"hour":            "giờ", "minute": "phút", "second": "giây",
		"district_outage": "Mất kết nối diện rộng",
	},
	"en": {
		"critical": "Critical", "major": "Major", "minor": "Minor", "info": "Info",
		"raised":          "New alert",
		"unacknowledged":  "Not acknowledged after %s",
		"unresolved":      "Not resolved after %s",
		"assigned":        "Assigned",
		"assigned_by":     "Assigned by %s at %s",
		"assign_note":     "Note: %s",
		"ack_overdue":     "Acknowledge target missed (%s)",
		"restore_overdue": "Restore target missed (%s)",
		"due":             "Due: %s",
		"acknowledged":    "Acknowledged",
		"resolved":        "Resolved",
		"device":          "Device",
		"place":           "District",
		"since":           "Since",
		"ack_by":          "Acknowledged by %s at %s",
		"resolved_auto":   "Back to normal at %s, after %s",
		"resolved_by":     "Resolved by %s at %s, after %s",
		"open":            "Open on the phone",
		"flaps":           "flapping %d times",
		"hour":            "h", "minute": "min", "second": "s",
		"district_outage": "Wide-area outage",
	},
}

// clock formats a time as the province reads it: Asia/Ho_Chi_Minh.
func clock(t time.Time) string { return t.In(hcm).Format("15:04 02/01/2006") }

// span writes a duration in whole minutes (seconds under a minute):
// "1 giờ 5 phút", "10 phút".
func span(lang string, d time.Duration) string {
	w := words[lang]
	if d < time.Minute {
		return fmt.Sprintf("%d %s", int(d.Seconds()), w["second"])
	}
	d = d.Round(time.Minute)
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h == 0:
		return fmt.Sprintf("%d %s", m, w["minute"])
	case m == 0:
		return fmt.Sprintf("%d %s", h, w["hour"])
	}
	return fmt.Sprintf("%d %s %d %s", h, w["hour"], m, w["minute"])
}

// render fills m's Subject, Text, Link and names from the alert a and the
// registry. step is the escalation's delay for the escalation kinds;
// people names users (username to name) in the text.
func render(m *Message, a *alert.Alert, reg *registry.Registry, people map[string]string, lang, base string, step time.Duration) {
	w := words[lang]
	person := func(username string) string {
		if n := people[username]; n != "" {
			return n
		}
		return username
	}
	m.Lang = lang
	name, place := a.Device, a.District
	if d, ok := reg.District(a.District); ok {
		place = d.Name
	}
	var path string
	if a.IsDistrict() {
		name, path = w["district_outage"]+" "+place, "/tech/#/district/"+url.PathEscape(a.District)
	} else {
		if d, ok := reg.Device(a.Device); ok && d.Name != "" {
			name = d.Name
		}
		path = "/tech/#/device/" + url.PathEscape(a.Device)
	}
	m.Name, m.Place, m.Link = name, place, base+path
	what := a.Message[lang]
	if what == "" {
		what = a.Message["vi"]
	}
	if a.Flaps > 0 {
		what += " (" + fmt.Sprintf(w["flaps"], a.Flaps) + ")"
	}
	sev := w[string(a.Severity)]
	var head string
	switch m.Kind {
	case KindUnacknowledged, KindUnresolved, KindAckOverdue, KindRestoreOverdue:
		head = fmt.Sprintf(w[string(m.Kind)], span(lang, step))
	default:
		head = w[string(m.Kind)]
	}
	m.Subject = fmt.Sprintf("[%s] %s: %s", sev, head, what)

	var b strings.Builder
	icon := map[Kind]string{KindRaised: "🔴", KindUnacknowledged: "⚠️", KindUnresolved: "⚠️", KindAssigned: "📋", KindAckOverdue: "⏰", KindRestoreOverdue: "⏰", KindAcknowledged: "👁", KindResolved: "✅"}[m.Kind]
	fmt.Fprintf(&b, "%s %s · %s\n%s\n", icon, head, sev, what)
	fmt.Fprintf(&b, "%s: %s\n%s: %s\n%s: %s\n", w["device"], name, w["place"], place, w["since"], clock(m.Raised))
	switch m.Kind {
	case KindAssigned:
		if d := a.Dispatch; d != nil && len(d.Steps) > 0 {
			fmt.Fprintf(&b, "%s\n", fmt.Sprintf(w["assigned_by"], person(d.Steps[0].By), clock(d.Steps[0].At)))
			if n := d.Steps[0].Note; n != "" {
				fmt.Fprintf(&b, "%s\n", fmt.Sprintf(w["assign_note"], n))
			}
		}
	case KindAckOverdue:
		fmt.Fprintf(&b, "%s\n", fmt.Sprintf(w["due"], clock(a.AckDue)))
	case KindRestoreOverdue:
		fmt.Fprintf(&b, "%s\n", fmt.Sprintf(w["due"], clock(a.RestoreDue)))
	}
	if a.Ack != nil && m.Kind != KindResolved && m.Kind != KindAssigned { // an assignment acknowledges
		fmt.Fprintf(&b, "%s\n", fmt.Sprintf(w["ack_by"], person(a.Ack.By), clock(a.Ack.At)))
	}
	if m.Kind == KindResolved {
		lasted := span(lang, a.ResolvedAt.Sub(m.Raised))
		if a.ResolvedBy == "" || a.ResolvedBy == "auto" {
			fmt.Fprintf(&b, "%s\n", fmt.Sprintf(w["resolved_auto"], clock(a.ResolvedAt), lasted))
		} else {
			fmt.Fprintf(&b, "%s\n", fmt.Sprintf(w["resolved_by"], person(a.ResolvedBy), clock(a.ResolvedAt), lasted))
		}
	}
	fmt.Fprintf(&b, "%s: %s", w["open"], m.Link)
	m.Text = b.String()
}
