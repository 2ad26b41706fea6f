// Package benchdata makes the large manifests and states that benchmarks
// measure. Files are generated once and kept in the system's temporary
// folder, since a million rows take longer to write than to read.
package benchdata

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Row returns the id and name of generated group i.
func Row(i int) (id, name string) {
	return fmt.Sprintf("cust-%07d", i), fmt.Sprintf("Customer %d Holdings", i)
}

// CSV returns the path of a manifest of n groups. With json, mapping and
// properties are JSON cells; otherwise flattened columns. Every field is
// managed either way.
func CSV(n int, json bool) (string, error) {
	kind := "flat"
	if json {
		kind = "json"
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("groupsync-bench-%d-%s.csv", n, kind))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if json {
		fmt.Fprintln(w, "user_group_id,name,is_demo_group,mapping,properties")
	} else {
		fmt.Fprintln(w, "user_group_id,name,is_demo_group,mapping.40,properties.region,properties.tier")
	}
	for i := range n {
		id, name := Row(i)
		if json {
			fmt.Fprintf(w, "%s,%s,%t,\"{\"\"40\"\": \"\"%d\"\"}\",\"{\"\"region\"\": \"\"r%d\"\", \"\"tier\"\": %d}\"\n", id, name, i%50 == 0, 200+i%1000, i%5, i%4)
		} else {
			fmt.Fprintf(w, "%s,%s,%t,%d,r%d,%d\n", id, name, i%50 == 0, 200+i%1000, i%5, i%4)
		}
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// BareCSVRead is the floor every manifest load is measured against:
// encoding/csv reading every record of the file, in this process.
func BareCSVRead(path string) (time.Duration, error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	for {
		if _, err := r.Read(); errors.Is(err, io.EOF) {
			return time.Since(start), nil
		} else if err != nil {
			return 0, err
		}
	}
}
