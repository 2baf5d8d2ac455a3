package caddyotp

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// handlerFiles are the files of the two handlers, which leave for otpgate/ and otpapi/ when
// the package splits (issue 11). Until then this test keeps them to the host's exported API.
var handlerFiles = []string{"gate.go", "gate_http.go", "api.go"}

// TestHandlersUseOnlyExportedAPI fails when a handler file names an unexported field or
// method of a host type (App, Template, Error, …: every type declared outside the handler
// files), such as g.app.sessions or t.name, or declares a method on one: code that would
// not compile once the handlers are in their own packages.
func TestHandlersUseOnlyExportedAPI(t *testing.T) {
	fset := token.NewFileSet()
	host, handlers := parsePackage(t, fset, ".")
	b := newBoundary(fset, host, handlers)
	for _, f := range handlers {
		b.check(f)
	}
	if len(b.violations) > 0 {
		t.Errorf("expected the handlers to use only exported members of host types, got:\n%s", strings.Join(b.violations, "\n"))
	}
	// The check sees through the handlers' fields: without this, a resolver that lost track
	// of g.app would pass everything.
	for _, want := range []string{"App.Send", "App.Verify", "App.CheckSession", "App.TemplateForKey", "App.RecentSMS", "Template.Name"} {
		if !b.seen[want] {
			t.Errorf("expected the check to see %s in the handler files, it did not", want)
		}
	}
	t.Logf("host API the handlers use: %s", strings.Join(sortedKeys(b.seen), ", "))
	t.Logf("unexported package-level host names the handlers still use: %s", strings.Join(sortedKeys(b.unexportedNames), ", "))
}

// TestHandlersUseOnlyExportedAPICatches runs the check on the reach-ins the handlers had
// before the exported API existed, each of which it must report.
func TestHandlersUseOnlyExportedAPICatches(t *testing.T) {
	fset := token.NewFileSet()
	host, handlers := parsePackage(t, fset, ".")
	src := `package caddyotp

func (g *Gate) old(r *http.Request) {
	_ = g.app.sessions.healthy.Load()
	g.app.bg.run(func() {})
	_ = g.app.secret
	_ = g.app.store.RevokeSession(r.Context(), "", time.Time{})
	_ = g.tmpl.name
	_ = g.app.template("x")
}

func (h *API) old() {
	for _, t := range h.app.keyed {
		_ = t.name
	}
	entries, _ := h.app.RecentSMS(nil, h.app.Template(""), 1)
	_ = entries[0].PriceUSD
	t := h.app.TemplateForKey("k")
	_ = t.lockGroup
}

func fromProvision(app any) {
	a := app.(*App)
	_ = a.policy
}

func (a *App) helper() { _ = a.secret }
`
	f, err := parser.ParseFile(fset, "old_handler.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := newBoundary(fset, host, append(handlers, f))
	b.check(f)
	want := []string{"sessionManager.healthy", "App.sessions", "background.run", "App.bg", "App.secret", "App.store",
		"Template.name", "App.template", "App.keyed", "Template.name", "Template.lockGroup", "App.policy",
		"App.helper", "App.secret"}
	var got []string
	for _, v := range b.violations {
		got = append(got, v[strings.LastIndex(v, " ")+1:])
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("expected violations %v, got %v", want, got)
	}
}

// parsePackage parses the package's non-test files in dir, split into host and handler files.
func parsePackage(t *testing.T, fset *token.FileSet, dir string) (host, handlers []*ast.File) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	isHandler := make(map[string]bool)
	for _, n := range handlerFiles {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Fatalf("expected handler file %s: %v", n, err)
		}
		isHandler[n] = true
	}
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if isHandler[filepath.Base(n)] {
			handlers = append(handlers, f)
		} else {
			host = append(host, f)
		}
	}
	return host, handlers
}

// boundary knows the package's declarations and follows, by syntax alone, which expressions
// of a handler file hold a host type. Types are names without '*'; a slice of T is "[]T"
// and a map to T is "map[]T".
type boundary struct {
	fset            *token.FileSet
	hostTypes       map[string]bool
	fields          map[string]map[string]string   // type → field → type
	methods         map[string]map[string][]string // type → method → result types
	funcs           map[string][]string            // package func → result types
	hostNames       map[string]bool                // unexported package-level names of host files
	violations      []string
	seen            map[string]bool // Type.Member of host types the handlers use
	unexportedNames map[string]bool
}

func newBoundary(fset *token.FileSet, host, handlers []*ast.File) *boundary {
	b := &boundary{fset: fset, hostTypes: map[string]bool{}, fields: map[string]map[string]string{},
		methods: map[string]map[string][]string{}, funcs: map[string][]string{}, hostNames: map[string]bool{},
		seen: map[string]bool{}, unexportedNames: map[string]bool{}}
	for _, f := range host {
		b.learn(f, true)
	}
	for _, f := range handlers {
		b.learn(f, false)
	}
	return b
}

// learn records the types, fields, methods and functions that f declares.
func (b *boundary) learn(f *ast.File, host bool) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if host {
						b.hostTypes[s.Name.Name] = true
					}
					b.noteHostName(s.Name.Name, host)
					if b.fields[s.Name.Name] == nil {
						b.fields[s.Name.Name] = map[string]string{}
					}
					switch st := s.Type.(type) {
					case *ast.StructType:
						for _, fl := range st.Fields.List {
							for _, n := range fl.Names {
								b.fields[s.Name.Name][n.Name] = typeName(fl.Type)
							}
						}
					case *ast.InterfaceType:
						for _, m := range st.Methods.List {
							if ft, ok := m.Type.(*ast.FuncType); ok {
								for _, n := range m.Names {
									b.addMethod(s.Name.Name, n.Name, results(ft))
								}
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						b.noteHostName(n.Name, host)
					}
				}
			}
		case *ast.FuncDecl:
			if d.Recv == nil {
				b.funcs[d.Name.Name] = results(d.Type)
				b.noteHostName(d.Name.Name, host)
			} else {
				b.addMethod(typeName(d.Recv.List[0].Type), d.Name.Name, results(d.Type))
			}
		}
	}
}

func (b *boundary) noteHostName(name string, host bool) {
	if host && !ast.IsExported(name) && name != "_" && name != "init" {
		b.hostNames[name] = true
	}
}

func (b *boundary) addMethod(typ, name string, res []string) {
	if b.methods[typ] == nil {
		b.methods[typ] = map[string][]string{}
	}
	b.methods[typ][name] = res
}

// check reports every selector of f that names an unexported member of a host type.
func (b *boundary) check(f *ast.File) {
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		env := map[string]string{}
		if fd.Recv != nil {
			if typ := typeName(fd.Recv.List[0].Type); b.hostTypes[typ] {
				b.violations = append(b.violations, fmt.Sprintf("%s: a method of a host type in a handler file: %s.%s",
					b.fset.Position(fd.Name.Pos()), typ, fd.Name.Name))
			}
			declare(env, fd.Recv)
		}
		declare(env, fd.Type.Params)
		declare(env, fd.Type.Results)
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				declare(env, n.Type.Params)
			case *ast.AssignStmt:
				b.assign(env, n.Lhs, n.Rhs)
			case *ast.ValueSpec:
				if n.Type != nil {
					for _, id := range n.Names {
						env[id.Name] = typeName(n.Type)
					}
				} else {
					lhs := make([]ast.Expr, len(n.Names))
					for i, id := range n.Names {
						lhs[i] = id
					}
					b.assign(env, lhs, n.Values)
				}
			case *ast.RangeStmt:
				elem := strings.TrimPrefix(strings.TrimPrefix(b.typeOf(env, n.X), "[]"), "map[]")
				if id, ok := n.Value.(*ast.Ident); ok && elem != "" {
					env[id.Name] = elem
				}
			case *ast.SelectorExpr:
				if typ := b.typeOf(env, n.X); b.hostTypes[typ] {
					member := typ + "." + n.Sel.Name
					if ast.IsExported(n.Sel.Name) {
						b.seen[member] = true
					} else {
						b.violations = append(b.violations, fmt.Sprintf("%s: %s", b.fset.Position(n.Sel.Pos()), member))
					}
				}
			}
			return true
		})
	}
	b.noteHostNamesUsed(f)
}

// noteHostNamesUsed records the unexported package-level names of host files that f uses:
// what the split must export, move, or copy. Members (x.name), struct literal keys and
// names f defines itself are not uses.
func (b *boundary) noteHostNamesUsed(f *ast.File) {
	notUse := map[*ast.Ident]bool{}
	defined := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			notUse[n.Sel] = true
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok {
				notUse[id] = true
			}
		case *ast.Field:
			for _, id := range n.Names {
				defined[id.Name] = true
			}
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, e := range n.Lhs {
					if id, ok := e.(*ast.Ident); ok {
						defined[id.Name] = true
					}
				}
			}
		case *ast.RangeStmt:
			if n.Tok == token.DEFINE {
				for _, e := range []ast.Expr{n.Key, n.Value} {
					if id, ok := e.(*ast.Ident); ok {
						defined[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				defined[id.Name] = true
			}
		case *ast.FuncDecl:
			notUse[n.Name] = true
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && !notUse[id] && !defined[id.Name] && b.hostNames[id.Name] {
			b.unexportedNames[id.Name] = true
		}
		return true
	})
}

// assign records the types of the identifiers on the left of lhs = rhs.
func (b *boundary) assign(env map[string]string, lhs, rhs []ast.Expr) {
	var types []string
	if len(rhs) == 1 && len(lhs) > 1 {
		if call, ok := rhs[0].(*ast.CallExpr); ok {
			types = b.callResults(env, call)
		}
	} else if len(rhs) == len(lhs) {
		for _, e := range rhs {
			types = append(types, b.typeOf(env, e))
		}
	}
	for i, e := range lhs {
		if id, ok := e.(*ast.Ident); ok && id.Name != "_" && i < len(types) && types[i] != "" {
			env[id.Name] = types[i]
		}
	}
}

// typeOf is the type of e as far as syntax and the package's declarations tell, or "".
func (b *boundary) typeOf(env map[string]string, e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return env[e.Name]
	case *ast.ParenExpr:
		return b.typeOf(env, e.X)
	case *ast.StarExpr:
		return b.typeOf(env, e.X)
	case *ast.UnaryExpr:
		return b.typeOf(env, e.X)
	case *ast.SelectorExpr:
		return b.fields[b.typeOf(env, e.X)][e.Sel.Name]
	case *ast.CallExpr:
		if res := b.callResults(env, e); len(res) > 0 {
			return res[0]
		}
	case *ast.CompositeLit:
		return typeName(e.Type)
	case *ast.TypeAssertExpr:
		return typeName(e.Type)
	case *ast.IndexExpr:
		t := b.typeOf(env, e.X)
		return strings.TrimPrefix(strings.TrimPrefix(t, "[]"), "map[]")
	}
	return ""
}

func (b *boundary) callResults(env map[string]string, call *ast.CallExpr) []string {
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		return b.funcs[fn.Name]
	case *ast.SelectorExpr:
		return b.methods[b.typeOf(env, fn.X)][fn.Sel.Name]
	}
	return nil
}

// declare records the types of a field list's names (receiver, parameters, results).
func declare(env map[string]string, fl *ast.FieldList) {
	if fl == nil {
		return
	}
	for _, f := range fl.List {
		for _, n := range f.Names {
			env[n.Name] = typeName(f.Type)
		}
	}
}

func results(ft *ast.FuncType) []string {
	var res []string
	if ft.Results == nil {
		return nil
	}
	for _, f := range ft.Results.List {
		n := len(f.Names)
		if n == 0 {
			n = 1
		}
		for i := 0; i < n; i++ {
			res = append(res, typeName(f.Type))
		}
	}
	return res
}

// typeName names a type expression: T and *T are "T", pkg.T is "pkg.T", []T is "[]T",
// map[K]T is "map[]T".
func typeName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return typeName(e.X)
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok {
			return x.Name + "." + e.Sel.Name
		}
	case *ast.ArrayType:
		return "[]" + typeName(e.Elt)
	case *ast.MapType:
		return "map[]" + typeName(e.Value)
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
