package lifecycle

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// maxWiringLines bounds a function in the commands and the packages that
// wire a process (ingestd, iocd, alertd, allinone): longer ones are where
// start and stop order hid before it had one place.
const maxWiringLines = 80

// tooLong lists functions not yet split, with their length today: the
// test fails if one grows, and says when one can leave the list.
var tooLong = map[string]int{
	"cmd/ingestbench/main.go run": 142,
}

// TestWiringFunctionsShort: no function in cmd/ or the process packages
// is longer than maxWiringLines (tests excepted).
func TestWiringFunctionsShort(t *testing.T) {
	var dirs []string
	cmds, _ := filepath.Glob("../../cmd/*")
	dirs = append(dirs, cmds...)
	for _, d := range []string{"ingestd", "iocd", "alertd", "allinone"} {
		dirs = append(dirs, filepath.Join("..", d))
	}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if len(files) == 0 {
			t.Errorf("%s: no Go files", dir)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range af.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				name := strings.TrimPrefix(filepath.ToSlash(f), "../../") + " " + fd.Name.Name
				name = strings.TrimPrefix(name, "../")
				switch known, listed := tooLong[name]; {
				case listed && n > known:
					t.Errorf("%s: %d lines, grew from %d", name, n, known)
				case listed && n <= maxWiringLines:
					t.Errorf("%s: %d lines now: take it off tooLong", name, n)
				case !listed && n > maxWiringLines:
					t.Errorf("%s: %d lines; split it (at most %d)", name, n, maxWiringLines)
				}
			}
		}
	}
}
