package cli

import (
	"bufio"
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// table writes rows in columns padded by display width, which is what a
// terminal lines up: a CJK character takes two columns, a combining mark
// none. text/tabwriter counts every character as one.
type table struct {
	rows   [][]string
	widths []int
}

func (t *table) add(cells ...string) {
	for i, c := range cells {
		if i == len(t.widths) {
			t.widths = append(t.widths, 0)
		}
		t.widths[i] = max(t.widths[i], displayWidth(c))
	}
	t.rows = append(t.rows, cells)
}

// write writes the rows, two spaces between columns, none after the last.
func (t *table) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, row := range t.rows {
		for i, c := range row {
			bw.WriteString(c)
			if i < len(row)-1 {
				bw.WriteString(strings.Repeat(" ", t.widths[i]-displayWidth(c)+2))
			}
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// displayWidth is how many terminal columns s takes, by the East Asian
// width of each character (Unicode Standard Annex #11).
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case width.LookupRune(r).Kind() == width.EastAsianWide, width.LookupRune(r).Kind() == width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
