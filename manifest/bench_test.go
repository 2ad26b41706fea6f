package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"groupsync/internal/benchdata"
)

const benchRows = 1_000_000

// BenchmarkLoadCSV loads a generated 1,000,000-row manifest. It reports
// rows/s, the heap the loaded groups hold per row, and the load time as a
// multiple of a bare encoding/csv read of the same file.
func BenchmarkLoadCSV(b *testing.B) {
	for _, kind := range []struct {
		name string
		json bool
	}{{"flat-columns", false}, {"json-cells", true}} {
		b.Run(kind.name, func(b *testing.B) {
			path, err := benchdata.CSV(benchRows, kind.json)
			if err != nil {
				b.Fatal(err)
			}
			base, err := benchdata.BareCSVRead(path)
			if err != nil {
				b.Fatal(err)
			}
			var took time.Duration
			var heap uint64
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				start := time.Now()
				m, err := Load([]string{path}, Options{})
				took = time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = after.HeapAlloc - before.HeapAlloc
				if len(m.Groups) != benchRows {
					b.Fatalf("%d groups", len(m.Groups))
				}
				runtime.KeepAlive(m)
			}
			b.ReportMetric(float64(benchRows)/took.Seconds(), "rows/s")
			b.ReportMetric(float64(heap)/benchRows, "heap-B/row")
			b.ReportMetric(took.Seconds()/base.Seconds(), "x-bare-csv")
		})
	}
}

// BenchmarkLoadXLSX loads a generated 100,000-row workbook (id and name
// as text, a mapping as a number, a property as text), and the same rows
// as CSV, and reports rows/s and the workbook's load time as a multiple
// of the CSV's.
func BenchmarkLoadXLSX(b *testing.B) {
	const rows = 100_000
	dir := b.TempDir()
	book, csvPath := filepath.Join(dir, "m.xlsx"), filepath.Join(dir, "m.csv")
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		b.Fatal(err)
	}
	var text strings.Builder
	text.WriteString("user_group_id,name,mapping.40,properties.region\n")
	sw.SetRow("A1", []any{"user_group_id", "name", "mapping.40", "properties.region"})
	for i := range rows {
		id, name, region := fmt.Sprintf("cust-%06d", i), fmt.Sprintf("Customer %d", i), []string{"eu", "us", "apac"}[i%3]
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, []any{id, name, 200 + i, region}); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&text, "%s,%s,%d,%s\n", id, name, 200+i, region)
	}
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.SaveAs(book); err != nil {
		b.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(csvPath, []byte(text.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	load := func(path string) time.Duration {
		start := time.Now()
		m, err := Load([]string{path}, Options{})
		if err != nil || len(m.Groups) != rows {
			b.Fatalf("Load(%s): %v", path, err)
		}
		return time.Since(start)
	}
	var took, base time.Duration
	for b.Loop() {
		base = load(csvPath)
		took = load(book)
	}
	b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
	b.ReportMetric(took.Seconds()/base.Seconds(), "x-csv")
}
