package influx_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/ioc-vn/ioc/internal/store/storetest"
	"github.com/ioc-vn/ioc/internal/testenv"
)

func TestContract(t *testing.T) {
	srv := testenv.StartInflux(t)
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		n++
		db := fmt.Sprintf("contract%d", n)
		srv.InfluxQL(t, "CREATE DATABASE "+db)
		s, err := influx.New(influx.Config{URL: srv.URL, Database: db})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}
