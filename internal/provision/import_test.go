package provision

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/registry"
	"github.com/xuri/excelize/v2"
)

// TestImportReportsEveryRow: a list with bad cells on several rows gets
// one error per bad cell, with the row as the spreadsheet numbers it, the
// column as the file names it, in both languages; nothing is importable.
func TestImportReportsEveryRow(t *testing.T) {
	f, _, _ := shipped(t)
	s, err := f.Read()
	if err != nil {
		t.Fatal(err)
	}
	csv := "Mã thiết bị;Loại;Tên;Huyện/TP;Đơn vị tích hợp;Thiết bị cha;Vĩ độ;Kinh độ;Khung hình/giây;Bitrate (kbps);Đang lắp đặt\n" +
		"nvr-moi-01;Đầu ghi;Đầu ghi mới;Huyện Đồng Hỷ;vms-tn;;21,63;105,89;;;có\n" +
		"cam moi 01;Camera;Camera mới;dong-hy;vms-tn;nvr-moi-01;21,63;105,89;25;2048;\n" +
		"cam-moi-02;Tủ lạnh;;Hà Nội;vms-tn;nvr-moi-01;91;105,89;;;có\n" +
		"\n" +
		"cam-moi-03;camera;Camera 3;dong-hy;envsense;nvr-moi-01;21,6;105,8;;;\n" +
		"cam-bvtw-01;camera;Trùng;dong-hy;vms-tn;;21,6;105,8;;;\n" +
		"nvr-moi-01;nvr;Trùng trong tệp;dong-hy;vms-tn;;21,6;105,8;;;\n"
	im, err := ReadDevices([]byte(csv), s)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		row int
		col string
	}
	want := map[key]string{
		{3, "Mã thiết bị"}:  "Mã \"cam moi 01\" không hợp lệ",
		{4, "Loại"}:         "Loại \"Tủ lạnh\" không hợp lệ",
		{4, "Tên"}:          "Thiếu tên thiết bị",
		{4, "Huyện/TP"}:     "Không có huyện/thành phố \"Hà Nội\"",
		{4, "Vĩ độ"}:        "\"91\" không phải số từ -90 đến 90",
		{6, "Thiết bị cha"}: "Thiết bị cha nvr-moi-01 thuộc đơn vị tích hợp khác (vms-tn)",
		{7, "Mã thiết bị"}:  "Thiết bị cam-bvtw-01 đã có trong sổ thiết bị",
		{8, "Mã thiết bị"}:  "Mã nvr-moi-01 đã có ở dòng 2",
	}
	got := map[key]string{}
	for _, e := range im.Errors {
		if e.EN == "" || e.VI == "" {
			t.Errorf("error without both languages: %+v", e)
		}
		got[key{e.Row, e.Column}] = e.VI
	}
	for k, w := range want {
		if !strings.HasPrefix(got[k], w) {
			t.Errorf("row %d column %s: %q, want %q", k.row, k.col, got[k], w)
		}
	}
	if len(im.Errors) != len(want) {
		t.Errorf("%d errors, want %d: %+v", len(im.Errors), len(want), im.Errors)
	}
	if im.Rows != 6 || len(im.Devices) != 0 {
		t.Errorf("rows %d devices %v, want 6 rows and nothing importable", im.Rows, im.Devices)
	}
}

// TestImportTemplates: the shipped CSV template is the generated one, and
// the generated .xlsx template reads back as its two devices, with the
// Vietnamese decimal commas, kinds and district name understood.
func TestImportTemplates(t *testing.T) {
	shippedCSV, err := os.ReadFile("../../configs/devices-template.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shippedCSV, TemplateCSV()) {
		t.Error("configs/devices-template.csv differs from TemplateCSV(): write TemplateCSV() to it again")
	}
	f, _, _ := shipped(t)
	s, err := f.Read()
	if err != nil {
		t.Fatal(err)
	}
	x, err := TemplateXLSX()
	if err != nil {
		t.Fatal(err)
	}
	wb, err := excelize.OpenReader(bytes.NewReader(x))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := wb.GetCellValue("Thiết bị", "A1"); h != "Mã thiết bị" {
		t.Errorf("A1 = %q", h)
	}
	for _, data := range [][]byte{x, TemplateCSV()} {
		im, err := ReadDevices(data, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Errors) > 0 || len(im.Devices) != 2 {
			t.Fatalf("template: %+v", im)
		}
		cam := im.Devices[1]
		if cam.Kind != registry.Camera || cam.District != "dong-hy" || cam.Lat != 21.6302 || cam.Parent != "nvr-vidu-01" ||
			cam.Profile == nil || cam.Profile.FPS != 25 || !cam.Commissioning || im.Devices[0].Kind != registry.NVR {
			t.Errorf("camera read as %+v", cam)
		}
	}
}
