package provision

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/unicode/norm"
)

// Limits of an imported device list.
const (
	MaxImportBytes = 4 << 20
	MaxImportRows  = 5000
	maxNameRunes   = 200
)

// A column of the device list: its Vietnamese header (the template's) and
// the registry key, which is accepted as a header too.
type column struct {
	vi, key  string
	required bool
}

var columns = []column{
	{"Mã thiết bị", "id", true},
	{"Loại", "kind", true},
	{"Tên", "name", true},
	{"Huyện/TP", "district", true},
	{"Đơn vị tích hợp", "integrator", true},
	{"Thiết bị cha", "parent", false},
	{"Vĩ độ", "lat", true},
	{"Kinh độ", "lon", true},
	{"Khung hình/giây", "fps", false},
	{"Bitrate (kbps)", "bitrate_kbps", false},
	{"Đang lắp đặt", "commissioning", false},
}

// RowError is one problem of an imported row: the spreadsheet row (the
// header is row 1), the column's header as written in the file, and what
// is wrong in Vietnamese and English.
type RowError struct {
	Row    int    `json:"row"`
	Column string `json:"column,omitempty"`
	VI     string `json:"vi"`
	EN     string `json:"en"`
}

// Import is a device list read and checked against the registry.
type Import struct {
	// Devices are the rows' devices in file order, when no row has an
	// error.
	Devices []registry.Device `json:"devices"`
	// Rows is the number of data rows read.
	Rows   int        `json:"rows"`
	Errors []RowError `json:"errors"`
}

// ReadDevices reads a device list (CSV, comma or semicolon separated, or
// the first sheet of an .xlsx workbook) and checks every row against s as
// if all were added: it reports every row's errors. The error return is
// for a file that cannot be read at all.
func ReadDevices(data []byte, s *Set) (*Import, error) {
	if len(data) > MaxImportBytes {
		return nil, fmt.Errorf("the file is %d bytes; at most %d", len(data), MaxImportBytes)
	}
	var table []record
	var err error
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		table, err = readXLSX(data)
	} else {
		table, err = readCSV(data)
	}
	if err != nil {
		return nil, err
	}
	return check(table, s), nil
}

// record is one row of the file and its number as the spreadsheet (or a
// text editor, for CSV) shows it.
type record struct {
	n     int
	cells []string
}

func readXLSX(data []byte) ([]record, error) {
	wb, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a readable .xlsx workbook: %w", err)
	}
	defer wb.Close()
	sheets := wb.GetSheetList()
	if len(sheets) == 0 {
		return nil, errors.New("the workbook has no sheet")
	}
	rows, err := wb.Rows(sheets[0])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record
	for n := 1; rows.Next(); n++ {
		if len(out) > MaxImportRows+1 {
			return nil, fmt.Errorf("more than %d rows", MaxImportRows)
		}
		r, err := rows.Columns()
		if err != nil {
			return nil, err
		}
		out = append(out, record{n, r})
	}
	return out, rows.Error()
}

func readCSV(data []byte) ([]record, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, errors.New("the CSV file is not UTF-8: save it as \"CSV UTF-8\"")
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	r := csv.NewReader(bytes.NewReader(data))
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		r.Comma = ';' // Excel in a Vietnamese locale
	}
	r.FieldsPerRecord = -1
	var out []record
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("CSV: %w", err)
		}
		if len(out) > MaxImportRows+1 {
			return nil, fmt.Errorf("more than %d rows", MaxImportRows)
		}
		line, _ := r.FieldPos(0)
		out = append(out, record{line, rec})
	}
}

// fold makes headers and names comparable: NFC, trimmed, lower case.
func fold(s string) string { return strings.ToLower(strings.TrimSpace(norm.NFC.String(s))) }

type rowChecker struct {
	out    *Import
	row    int
	header []string
}

func (c *rowChecker) bad(col int, vi, en string) {
	name := ""
	if col >= 0 && col < len(c.header) {
		name = strings.TrimSpace(c.header[col])
	}
	c.out.Errors = append(c.out.Errors, RowError{Row: c.row, Column: name, VI: vi, EN: en})
}

func check(table []record, s *Set) *Import {
	out := &Import{}
	if len(table) == 0 {
		out.Errors = append(out.Errors, RowError{Row: 1, VI: "Tệp trống: dòng 1 là tiêu đề cột, mỗi dòng sau là một thiết bị", EN: "The file is empty: row 1 holds the column headers, each row after it one device"})
		return out
	}
	c := &rowChecker{out: out, row: table[0].n, header: table[0].cells}
	at := map[string]int{}
	for i, h := range c.header {
		for _, col := range columns {
			if f := fold(h); f == fold(col.vi) || f == col.key {
				at[col.key] = i
			}
		}
	}
	for _, col := range columns {
		if _, ok := at[col.key]; !ok && col.required {
			c.bad(-1, fmt.Sprintf("Thiếu cột \"%s\"", col.vi), fmt.Sprintf("Column %q (%s) is missing", col.vi, col.key))
		}
	}
	if len(out.Errors) > 0 {
		return out
	}
	districts, integrators := map[string]string{}, map[string]string{}
	for _, d := range s.Registry.Districts {
		districts[fold(d.ID)], districts[fold(d.Name)] = d.ID, d.ID
	}
	for _, in := range s.Registry.Integrators {
		integrators[fold(in.ID)], integrators[fold(in.Name)] = in.ID, in.ID
	}
	known := map[string]registry.Device{}
	for _, d := range s.Registry.Devices {
		known[d.ID] = d
	}
	rowOf := map[string]int{}
	var devs []registry.Device
	for _, r := range table[1:] {
		c.row = r.n
		rec := r.cells
		cell := func(key string) (string, int) {
			i, ok := at[key]
			if !ok || i >= len(rec) {
				return "", i
			}
			return strings.TrimSpace(rec[i]), i
		}
		if strings.TrimSpace(strings.Join(rec, "")) == "" {
			continue // a blank row
		}
		out.Rows++
		d, ok := c.device(cell, districts, integrators)
		if id, col := cell("id"); ok && id != "" {
			if prev, dup := rowOf[d.ID]; dup {
				c.bad(col, fmt.Sprintf("Mã %s đã có ở dòng %d", d.ID, prev), fmt.Sprintf("id %s is already on row %d", d.ID, prev))
				continue
			}
			if _, dup := known[d.ID]; dup {
				c.bad(col, fmt.Sprintf("Thiết bị %s đã có trong sổ thiết bị", d.ID), fmt.Sprintf("device %s is already registered", d.ID))
				continue
			}
			rowOf[d.ID] = c.row
			devs = append(devs, d)
		}
	}
	all := map[string]registry.Device{}
	for id, d := range known {
		all[id] = d
	}
	for _, d := range devs {
		all[d.ID] = d
	}
	for _, d := range devs {
		if d.Parent == "" {
			continue
		}
		c.row = rowOf[d.ID]
		col := at["parent"]
		switch p, ok := all[d.Parent]; {
		case !ok:
			c.bad(col, fmt.Sprintf("Thiết bị cha %s không có trong sổ thiết bị hay trong tệp", d.Parent), fmt.Sprintf("parent %s is neither registered nor in the file", d.Parent))
		case p.Kind != registry.NVR && p.Kind != registry.Gateway:
			c.bad(col, fmt.Sprintf("Thiết bị cha %s không phải đầu ghi hay gateway", d.Parent), fmt.Sprintf("parent %s is not an nvr or gateway", d.Parent))
		case p.Integrator != d.Integrator:
			c.bad(col, fmt.Sprintf("Thiết bị cha %s thuộc đơn vị tích hợp khác (%s)", d.Parent, p.Integrator), fmt.Sprintf("parent %s belongs to another integrator (%s)", d.Parent, p.Integrator))
		}
	}
	if out.Rows == 0 {
		c.row = 2
		c.bad(-1, "Tệp không có dòng thiết bị nào", "The file has no device rows")
	}
	if len(out.Errors) > 0 {
		return out
	}
	// Last, the registry's own check of the whole result.
	f := s.Registry
	f.Devices = append(append([]registry.Device(nil), f.Devices...), devs...)
	if _, err := registry.New(f); err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			row := 0
			if m := entryRef.FindStringSubmatch(l); m != nil {
				row = rowOf[m[2]]
			}
			out.Errors = append(out.Errors, RowError{Row: row, VI: "Sổ thiết bị từ chối: " + l, EN: "The registry refuses it: " + l})
		}
		return out
	}
	out.Devices = devs
	return out
}

// device reads one row's cells into a device, reporting each bad cell.
func (c *rowChecker) device(cell func(string) (string, int), districts, integrators map[string]string) (registry.Device, bool) {
	errs := len(c.out.Errors)
	var d registry.Device
	id, col := cell("id")
	switch {
	case id == "":
		c.bad(col, "Thiếu mã thiết bị", "the device id is empty")
	case !registry.ValidDeviceID(id):
		c.bad(col, fmt.Sprintf("Mã \"%s\" không hợp lệ: 1-64 ký tự A-Z a-z 0-9 . _ -, bắt đầu bằng chữ hoặc số, không dấu, không khoảng trắng", id),
			fmt.Sprintf("id %q: use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit", id))
	}
	d.ID = id
	kind, col := cell("kind")
	switch fold(kind) {
	case "camera":
		d.Kind = registry.Camera
	case "nvr", "đầu ghi":
		d.Kind = registry.NVR
	case "sensor", "cảm biến":
		d.Kind = registry.Sensor
	case "gateway":
		d.Kind = registry.Gateway
	default:
		c.bad(col, fmt.Sprintf("Loại \"%s\" không hợp lệ: dùng Camera, Đầu ghi, Cảm biến hoặc Gateway", kind),
			fmt.Sprintf("kind %q: use camera, nvr, sensor or gateway", kind))
	}
	name, col := cell("name")
	switch {
	case name == "":
		c.bad(col, "Thiếu tên thiết bị", "the name is empty")
	case utf8.RuneCountInString(name) > maxNameRunes:
		c.bad(col, fmt.Sprintf("Tên dài quá %d ký tự", maxNameRunes), fmt.Sprintf("the name is longer than %d characters", maxNameRunes))
	}
	d.Name = norm.NFC.String(name)
	dist, col := cell("district")
	if d.District = districts[fold(dist)]; d.District == "" {
		c.bad(col, fmt.Sprintf("Không có huyện/thành phố \"%s\" (dùng mã hoặc tên như trong sổ thiết bị)", dist),
			fmt.Sprintf("no district %q (use its id or name as in the registry)", dist))
	}
	in, col := cell("integrator")
	if d.Integrator = integrators[fold(in)]; d.Integrator == "" {
		c.bad(col, fmt.Sprintf("Không có đơn vị tích hợp \"%s\" (thêm đơn vị trước, hoặc dùng mã/tên như trong sổ thiết bị)", in),
			fmt.Sprintf("no integrator %q (add it first, or use its id or name as in the registry)", in))
	}
	d.Parent, _ = cell("parent")
	d.Lat = c.number(cell, "lat", -90, 90, true)
	d.Lon = c.number(cell, "lon", -180, 180, true)
	fps := c.number(cell, "fps", 0, 1000, false)
	kbps := c.number(cell, "bitrate_kbps", 0, 1e6, false)
	if fps > 0 || kbps > 0 {
		d.Profile = &registry.Profile{FPS: fps, BitrateKbps: kbps}
	}
	v, col := cell("commissioning")
	switch fold(v) {
	case "", "không", "no", "false", "0":
	case "có", "x", "yes", "true", "1":
		d.Commissioning = true
	default:
		c.bad(col, fmt.Sprintf("\"%s\": ghi \"có\" hoặc để trống", v), fmt.Sprintf("%q: write \"có\" (yes) or leave it empty", v))
	}
	return d, len(c.out.Errors) == errs
}

// number reads a decimal with a point or a comma (vi-VN) within [lo, hi].
func (c *rowChecker) number(cell func(string) (string, int), key string, lo, hi float64, required bool) float64 {
	v, col := cell(key)
	if v == "" {
		if required {
			c.bad(col, "Ô trống: cần một số", "empty: a number is needed")
		}
		return 0
	}
	f, err := strconv.ParseFloat(strings.Replace(v, ",", ".", 1), 64)
	if err != nil || f < lo || f > hi {
		c.bad(col, fmt.Sprintf("\"%s\" không phải số từ %s đến %s", v, vn(lo), vn(hi)), fmt.Sprintf("%q is not a number from %g to %g", v, lo, hi))
		return 0
	}
	return f
}

// vn writes a bound as Vietnamese does (a comma for the decimal point).
func vn(f float64) string { return strings.Replace(strconv.FormatFloat(f, 'f', -1, 64), ".", ",", 1) }

// TemplateCSV is a device list with the Vietnamese headers and two
// example rows, UTF-8 with a BOM so that Excel reads the accents, and
// semicolons between cells as Excel writes them in a Vietnamese locale
// (where the comma is the decimal point).
func TemplateCSV() []byte {
	var b bytes.Buffer
	b.WriteString("\xef\xbb\xbf")
	w := csv.NewWriter(&b)
	w.Comma = ';'
	for _, r := range templateRows() {
		_ = w.Write(r)
	}
	w.Flush()
	return b.Bytes()
}

// TemplateXLSX is the same list as an Excel workbook.
func TemplateXLSX() ([]byte, error) {
	wb := excelize.NewFile()
	defer wb.Close()
	const sheet = "Thiết bị"
	if err := wb.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	for i, r := range templateRows() {
		for j, v := range r {
			ref, _ := excelize.CoordinatesToCellName(j+1, i+1)
			if err := wb.SetCellStr(sheet, ref, v); err != nil {
				return nil, err
			}
		}
	}
	if err := wb.SetColWidth(sheet, "A", "K", 18); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := wb.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func templateRows() [][]string {
	var head []string
	for _, c := range columns {
		head = append(head, c.vi)
	}
	return [][]string{head,
		{"nvr-vidu-01", "Đầu ghi", "Đầu ghi Trường THPT Ví Dụ", "Huyện Đồng Hỷ", "vms-tn", "", "21,6301", "105,8902", "", "", "có"},
		{"cam-vidu-01", "Camera", "Camera cổng Trường THPT Ví Dụ", "Huyện Đồng Hỷ", "vms-tn", "nvr-vidu-01", "21,6302", "105,8903", "25", "2048", "có"},
	}
}
