package notify

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/contract"
)

// Config is the notifications section of ingest's configuration
// (docs/OPERATIONS.md). With no policies nothing is sent.
type Config struct {
	// BaseURL is where people open the IOC server's pages: messages link
	// to <base_url>/tech/#/device/<id>, the alert on the phone page.
	BaseURL string `yaml:"base_url"`
	// Language of the messages: vi (default) or en.
	Language string `yaml:"language"`
	// GroupWait is how long a new alert waits before it is announced, so
	// that the devices of a recorder or district that goes dark are folded
	// under its one alert first (one message, not one per camera); and how
	// long a resolved one waits, so that a flapping fault is not "resolved"
	// and "raised" every minute. Default 1m.
	GroupWait time.Duration `yaml:"group_wait"`
	// GiveUpAfter: a message still not delivered this long after it was
	// planned is marked failed (admin endpoint, metrics). Default 24h.
	GiveUpAfter time.Duration `yaml:"give_up_after"`
	// Channels by name; recipients name one.
	Channels map[string]ChannelConfig `yaml:"channels"`
	// Recipients by name; policies name them.
	Recipients map[string]Recipient `yaml:"recipients"`
	// Policies: every policy whose severities and districts match an
	// alert applies to it.
	Policies []Policy `yaml:"policies"`
	// Assignees name who is told when an alert is assigned (dispatched)
	// to a team or technician: "team:<team id>" or "user:<username>" (as
	// the IOC server's auth.teams and users say) to recipients. They then
	// get the incident's updates, the resolution too.
	Assignees map[string][]string `yaml:"assignees"`
	// People names the IOC server's users in messages ("Đã xác nhận bởi
	// <name>"): username to name, as the IOC server's auth.users say. A
	// user not listed is named by username. ioc-all fills it from its IOC
	// server's users.
	People map[string]string `yaml:"people"`
}

// ChannelConfig is one channel. Fields holding a secret (secret,
// password, token, access_token) may say "env:NAME" to read the
// environment variable NAME instead, so the file holds no secret.
type ChannelConfig struct {
	// Type: webhook, smtp, telegram or zalo (or one a Factory adds).
	Type string `yaml:"type"`
	// URL: the webhook's address; for telegram and zalo the API's base
	// address (default https://api.telegram.org, https://openapi.zalo.me).
	URL string `yaml:"url"`
	// Secret signs webhook bodies (X-IOC-Signature, HMAC-SHA256).
	Secret string `yaml:"secret"`
	// Addr (host:port), From, Username and Password: an SMTP submission
	// server, always with STARTTLS unless Insecure (a relay on loopback).
	Addr     string `yaml:"addr"`
	From     string `yaml:"from"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Insecure bool   `yaml:"insecure"`
	// CAFile verifies the SMTP server with this CA (PEM) instead of the
	// system's roots: a province's own mail server.
	CAFile string `yaml:"ca_file"`
	// Token is the Telegram bot's token; AccessToken the Zalo OA's.
	Token       string `yaml:"token"`
	AccessToken string `yaml:"access_token"`
	// Timeout bounds one send. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Recipient is someone to tell, on one channel.
type Recipient struct {
	Channel string `yaml:"channel"`
	// To is the chat id (telegram), address (smtp) or user id (zalo);
	// empty for a webhook.
	To string `yaml:"to"`
}

// Policy says who is told about which alerts, and when.
type Policy struct {
	Name string `yaml:"name"`
	// Severities and Districts it applies to; an empty list is all.
	Severities []alert.Severity `yaml:"severities"`
	Districts  []string         `yaml:"districts"`
	// Notify: told at once (after group_wait).
	Notify []string `yaml:"notify"`
	// Unacknowledged: told when no one has acknowledged it After it was
	// raised; Unresolved: when it is still not resolved After it was raised.
	Unacknowledged []Step `yaml:"unacknowledged"`
	Unresolved     []Step `yaml:"unresolved"`
	// Breached: told when the alert misses one of its severity's response
	// targets (alerts.targets: time to acknowledge, time to restore), one
	// message per target missed.
	Breached []string `yaml:"breached"`
	// QuietHours hold this policy's messages (minor and info alerts only)
	// until the quiet hours end, Asia/Ho_Chi_Minh time; one resolved by
	// then is never sent.
	QuietHours *QuietHours `yaml:"quiet_hours"`
}

// Step is one escalation.
type Step struct {
	After  time.Duration `yaml:"after"`
	Notify []string      `yaml:"notify"`
}

// QuietHours are "HH:MM" to "HH:MM", Asia/Ho_Chi_Minh; From after To spans
// midnight.
type QuietHours struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`

	from, to int // minutes after midnight
}

// Vietnam keeps UTC+7 all year (no daylight saving): a fixed zone needs
// no tz database on the machine.
var hcm = time.FixedZone("ICT", 7*3600)

// quiet reports whether t is within the quiet hours, and when they end.
func (q *QuietHours) quiet(t time.Time) (bool, time.Time) {
	if q == nil || q.from == q.to {
		return false, time.Time{}
	}
	l := t.In(hcm)
	m := l.Hour()*60 + l.Minute()
	midnight := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, hcm)
	switch {
	case q.from < q.to && m >= q.from && m < q.to:
		return true, midnight.Add(time.Duration(q.to) * time.Minute)
	case q.from > q.to && m >= q.from:
		return true, midnight.AddDate(0, 0, 1).Add(time.Duration(q.to) * time.Minute)
	case q.from > q.to && m < q.to:
		return true, midnight.Add(time.Duration(q.to) * time.Minute)
	}
	return false, time.Time{}
}

func parseClock(s string) (int, error) {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || h < 0 || h > 23 || m < 0 || m > 59 || len(s) != 5 {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return h*60 + m, nil
}

// Defaults the zero fields take.
const (
	DefaultGroupWait   = time.Minute
	DefaultGiveUpAfter = 24 * time.Hour
	defaultTimeout     = 30 * time.Second
)

// Enabled reports whether any policy is configured.
func (c *Config) Enabled() bool { return len(c.Policies) > 0 || len(c.Assignees) > 0 }

// Validate fills defaults, reads "env:" secrets and reports every error.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("notify: "+format, a...)) }
	if c.Language == "" {
		c.Language = "vi"
	}
	if c.Language != "vi" && c.Language != "en" {
		bad("language %q: use vi or en", c.Language)
	}
	if c.GroupWait == 0 {
		c.GroupWait = DefaultGroupWait
	}
	if c.GiveUpAfter == 0 {
		c.GiveUpAfter = DefaultGiveUpAfter
	}
	if c.GroupWait < 0 || c.GiveUpAfter < 0 {
		bad("group_wait and give_up_after cannot be negative")
	}
	if c.Enabled() && c.BaseURL == "" {
		bad("base_url is needed for the link to the alert on the phone page (e.g. https://ioc.example.gov.vn)")
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	for name, ch := range c.Channels {
		for _, p := range []*string{&ch.Secret, &ch.Password, &ch.Token, &ch.AccessToken} {
			if env, ok := strings.CutPrefix(*p, "env:"); ok {
				*p = os.Getenv(env)
				if *p == "" {
					bad("channels.%s: environment variable %s is empty", name, env)
				}
			}
		}
		if ch.Timeout == 0 {
			ch.Timeout = defaultTimeout
		}
		if _, ok := channelTypes[ch.Type]; !ok {
			bad("channels.%s: type %q: use webhook, smtp, telegram or zalo", name, ch.Type)
		} else if err := channelTypes[ch.Type].check(&ch); err != nil {
			bad("channels.%s: %v", name, err)
		}
		c.Channels[name] = ch
	}
	for name, r := range c.Recipients {
		ch, ok := c.Channels[r.Channel]
		switch {
		case !ok:
			bad("recipients.%s: channel %q is not in channels", name, r.Channel)
		case ch.Type == "webhook" && r.To != "":
			bad("recipients.%s: a webhook recipient has no to: the channel's url is the address", name)
		case ch.Type != "webhook" && r.To == "":
			bad("recipients.%s: to is needed (chat id, e-mail address or Zalo user id)", name)
		}
	}
	for who, rs := range c.Assignees {
		if !contract.ValidAssignee(who) {
			bad("assignees: %q: use team:<team id> or user:<username>", who)
		}
		if len(rs) == 0 {
			bad("assignees.%s names no recipient", who)
		}
		for _, r := range rs {
			if _, ok := c.Recipients[r]; !ok {
				bad("assignees.%s: recipient %q is not in recipients", who, r)
			}
		}
	}
	names := map[string]bool{}
	for i := range c.Policies {
		p := &c.Policies[i]
		if p.Name == "" {
			p.Name = fmt.Sprintf("policy-%d", i+1)
		}
		if names[p.Name] {
			bad("policies: name %q is used twice", p.Name)
		}
		names[p.Name] = true
		for _, s := range p.Severities {
			if s.Rank() == 3 && s != alert.Info {
				bad("policies.%s: severity %q: use critical, major, minor or info", p.Name, s)
			}
		}
		check := func(where string, rs []string) {
			if len(rs) == 0 {
				bad("policies.%s: %s names no recipient", p.Name, where)
			}
			for _, r := range rs {
				if _, ok := c.Recipients[r]; !ok {
					bad("policies.%s: %s: recipient %q is not in recipients", p.Name, where, r)
				}
			}
		}
		if len(p.Notify) > 0 {
			check("notify", p.Notify)
		}
		for j, s := range p.Unacknowledged {
			check(fmt.Sprintf("unacknowledged[%d]", j), s.Notify)
			if s.After <= 0 {
				bad("policies.%s: unacknowledged[%d]: after must be more than 0", p.Name, j)
			}
		}
		for j, s := range p.Unresolved {
			check(fmt.Sprintf("unresolved[%d]", j), s.Notify)
			if s.After <= 0 {
				bad("policies.%s: unresolved[%d]: after must be more than 0", p.Name, j)
			}
		}
		if len(p.Breached) > 0 {
			check("breached", p.Breached)
		}
		if len(p.Notify)+len(p.Unacknowledged)+len(p.Unresolved)+len(p.Breached) == 0 {
			bad("policies.%s: tells no one (notify, unacknowledged, unresolved or breached)", p.Name)
		}
		if q := p.QuietHours; q != nil {
			var err error
			if q.from, err = parseClock(q.From); err != nil {
				bad("policies.%s: quiet_hours.from: %v", p.Name, err)
			}
			if q.to, err = parseClock(q.To); err != nil {
				bad("policies.%s: quiet_hours.to: %v", p.Name, err)
			}
			if len(p.Severities) == 0 || slices.ContainsFunc(p.Severities, func(s alert.Severity) bool { return s == alert.Critical || s == alert.Major }) {
				bad("policies.%s: quiet_hours hold minor and info alerts only: list severities [minor] or [minor, info]", p.Name)
			}
		}
	}
	return errors.Join(errs...)
}

// matches reports whether p applies to a.
func (p *Policy) matches(a *alert.Alert) bool {
	return (len(p.Severities) == 0 || slices.Contains(p.Severities, a.Severity)) &&
		(len(p.Districts) == 0 || slices.Contains(p.Districts, a.District))
}
