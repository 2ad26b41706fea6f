package manifest

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad_Stdin(t *testing.T) {
	dir, paths := write(t, map[string]string{"m.csv": "id,name\nfile,F\n"})
	m, err := Load([]string{"-", paths[0]}, Options{Stdin: strings.NewReader("id,name\na,A\nb,B\n")})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Groups) != 3 || m.Groups[0].Source.String() != "<stdin>:2" || m.Files[0] != "<stdin>" {
		t.Errorf("groups %+v, files %v", m.Groups, m.Files)
	}
	_, err = Load([]string{"-"}, Options{Stdin: strings.NewReader("id,name\na,\n")})
	if err == nil || err.Error() != "<stdin>:2: name: missing: every group needs a name" {
		t.Errorf("Load(bad stdin) = %v", err)
	}
	m, err = Load([]string{"-"}, Options{Stdin: strings.NewReader("- {id: y, name: Y}\n"), StdinFormat: FormatYAML})
	if err != nil || len(m.Groups) != 1 || m.Groups[0].ID != "y" {
		t.Errorf("Load(yaml stdin) = %+v, %v", m, err)
	}
	_, err = Load([]string{"-", "-"}, Options{Stdin: strings.NewReader("")})
	if err == nil || !strings.Contains(err.Error(), "-f - is given twice") {
		t.Errorf("Load(-, -) = %v", err)
	}
	// A file whose name holds .xlsx# is not a sheet when it exists.
	odd := filepath.Join(dir, "odd.xlsx#1.csv")
	writeFile(t, odd, []byte("id,name\nodd,O\n"))
	if m, err := Load([]string{odd}, Options{}); err != nil || len(m.Groups) != 1 {
		t.Errorf("Load(%s) = %+v, %v", odd, m, err)
	}
}
