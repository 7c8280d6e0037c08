package store

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ioc-vn/ioc/internal/point"
)

func sortFields(fs []point.Field) {
	slices.SortFunc(fs, func(a, b point.Field) int { return strings.Compare(a.Key, b.Key) })
}

func sortPoints(pts []point.Point) {
	slices.SortStableFunc(pts, func(a, b point.Point) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if c := strings.Compare(a.Measurement, b.Measurement); c != 0 {
			return c
		}
		return compareTags(a.Tags, b.Tags)
	})
}

func compareTags(a, b []point.Tag) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].Key, b[i].Key); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}
