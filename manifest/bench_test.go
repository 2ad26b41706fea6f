package manifest

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"groupsync/internal/benchdata"
)

const benchRows = 1_000_000

// bareRead is the floor: encoding/csv reading every record of the file.
func bareRead(b *testing.B, path string) time.Duration {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	for {
		if _, err := r.Read(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

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
			base := bareRead(b, path)
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
