package iocd_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestAvailabilityReportPrintsOnA4: vms-tn's monthly report, printed from
// Chromium as the operator would (page.printToPDF, the page's own @page
// size), is A4 landscape in Vietnamese with vi-VN numbers: per device for
// the month on one page; per device and day over many pages, each with the
// table's header, every row whole on one page (its cells on one line),
// each once and in order, no blank page. The PDF's text is read back with
// poppler's pdftotext.
func TestAvailabilityReportPrintsOnA4(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	for _, tool := range []string{"pdftotext", "pdfinfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (Debian package poppler-utils; scripts/test installs it)", tool)
		}
	}
	base, _ := startNovember(t, "print")
	ctx := chrome(t, 1600, 1000)

	loginPage(t, ctx, base, "operator", url.QueryEscape("/reports/"), `#rows`)
	for _, tc := range []struct{ name, query string }{
		{"month", "month=2026-11&group=device&integrator=vms-tn"},
		{"days", "month=2026-11&group=device&period=day&integrator=vms-tn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, ctx, 30*time.Second, chromedp.Navigate(base+"/reports/?"+tc.query), chromedp.WaitVisible(`body[data-loaded="2026-11/device"]`))
			var rows [][]string
			run(t, ctx, 10*time.Second, chromedp.Evaluate(`[...document.querySelectorAll("#rows tr")].map(tr => [...tr.cells].filter(td => !td.hidden).map(td => td.textContent))`, &rows))
			var pdf string
			run(t, ctx, 60*time.Second, chromedp.ActionFunc(func(cx context.Context) error {
				b, _, err := page.PrintToPDF().WithPreferCSSPageSize(true).WithPrintBackground(false).Do(cx)
				pdf = base64.StdEncoding.EncodeToString(b)
				return err
			}))
			raw, _ := base64.StdEncoding.DecodeString(pdf)
			file := filepath.Join(testArtifacts(t), "availability-"+tc.name+".pdf")
			if err := os.WriteFile(file, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			info, err := exec.Command("pdfinfo", file).Output()
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			if m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(info); m != nil {
				n, _ = strconv.Atoi(string(m[1]))
			}
			if !regexp.MustCompile(`(?m)^Page size:\s+84[12]\.\d+ x 59[45]\.\d+ pts \(A4\)`).Match(info) {
				t.Errorf("not A4 landscape:\n%s", info)
			}
			wantRows := 23
			if tc.name == "days" {
				wantRows = 23 * 30
			}
			if len(rows) != wantRows {
				t.Fatalf("%d rows on the page, want %d", len(rows), wantRows)
			}
			if tc.name == "month" && n != 1 {
				t.Errorf("the monthly report is %d pages, want 1", n)
			}
			if tc.name == "days" && n < 10 {
				t.Errorf("%d rows on %d pages", len(rows), n)
			}
			next := 0 // the next row expected
			for p := 1; p <= n; p++ {
				out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", "-f", strconv.Itoa(p), "-l", strconv.Itoa(p), file, "-").Output()
				if err != nil {
					t.Fatal(err)
				}
				text := string(out)
				if !strings.Contains(text, "Tên") || !strings.Contains(text, "Mất kết nối") {
					t.Errorf("page %d has no table header:\n%s", p, text)
				}
				onPage, rest := 0, ""
				for _, line := range strings.Split(text, "\n") {
					line = strings.Join(strings.Fields(line), " ")
					if rest != "" { // the name wrapped: its next words lead this line
						words := strings.Fields(rest)
						for len(words) > 0 && strings.HasPrefix(line, words[0]) {
							line = strings.TrimSpace(strings.TrimPrefix(line, words[0]))
							words = words[1:]
						}
						rest = strings.Join(words, " ")
						continue
					}
					if next < len(rows) {
						if r, ok := rowOnLine(rows[next], line); ok {
							next++
							onPage++
							rest = r
						}
					}
				}
				if rest != "" {
					t.Errorf("page %d: row %d is cut, %q goes on to the next page", p, next, rest)
				}
				if onPage == 0 {
					t.Errorf("page %d has no row:\n%s", p, text)
				}
				if p == 1 && (!strings.Contains(text, "Báo cáo khả dụng tháng 11/2026 — Hệ thống VMS Thái Nguyên") || !regexp.MustCompile(`\b\d{2,3},\d\d %`).MatchString(text)) {
					t.Errorf("page 1 lacks the Vietnamese heading or a vi-VN percentage:\n%s", text)
				}
			}
			if next != len(rows) {
				t.Errorf("row %d of %d (%q) is not whole on one line of the PDF, in order", next+1, len(rows), rows[min(next, len(rows)-1)])
			}
		})
	}
}

// rowOnLine reports whether line is row's: the line starts with the
// row's name, or its first words if the name wraps (rest: the words left
// for the lines below), and has every other cell after it, in order.
func rowOnLine(row []string, line string) (rest string, ok bool) {
	name := strings.Fields(row[0])
	words := strings.Fields(line)
	n := 0
	for n < len(name) && n < len(words) && words[n] == name[n] {
		n++
	}
	if n == 0 {
		return "", false
	}
	line = strings.Join(words[n:], " ")
	for _, cell := range row[1:] {
		cell = strings.Join(strings.Fields(cell), " ")
		i := strings.Index(line, cell)
		if i < 0 {
			return "", false
		}
		line = line[i+len(cell):]
	}
	return strings.Join(name[n:], " "), true
}

func testArtifacts(t *testing.T) string {
	dir := filepath.Join("..", "..", "artifacts", "pdf")
	if d := os.Getenv("IOC_TEST_ARTIFACTS"); d != "" {
		dir = filepath.Join(d, "pdf")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
