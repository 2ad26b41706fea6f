package manifest

import (
	"strings"
	"testing"
)

// Every piece of input an error repeats is cut to a sane length, with an
// ellipsis and its size: a 1 MB column name is not a 1 MB line on the
// screen.
func TestErrors_EchoInputCut(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	files := map[string]string{
		"column.csv":    "id,name," + long + "\nx,X,1\n",
		"twice.csv":     "id,name,properties." + long + ",properties." + long + "\nx,X,1,2\n",
		"boolean.csv":   "id,name,is_demo_group\nx,X," + long + "\n",
		"spaces.csv":    "id,name\n " + long + ",X\n",
		"nameless.csv":  "id,name,\nx,X," + long + "\n",
		"duplicate.csv": "id,name\n" + long + ",X\n" + long + ",Y\n",
		"key.yaml":      "- id: x\n  name: X\n  ? " + long + "\n  : 1\n",
		"property.yaml": "- id: x\n  name: X\n  properties:\n    ? " + long + "\n    : .inf\n",
		"mapping.yaml":  "- id: x\n  name: X\n  mapping:\n    ? " + long + "\n    : [1]\n",
	}
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			_, paths := write(t, map[string]string{name: content})
			_, err := Load(paths, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if len(line) > 1200 || !strings.Contains(line, "bytes)") {
					t.Errorf("%.1300s", line)
				}
			}
		})
	}
}
