// lua-health runs an Argo CD resource health script the way Argo CD's application controller does, so our
// scripts are tested in the interpreter that will run them: gopher-lua (Lua 5.1) at the version Argo CD pins, a
// state opened without the standard libraries (a script from argocd-cm gets only package, base and table, plus
// a restricted os that our scripts do not use), the object as the global `obj`, a one-second limit, and the
// returned table encoded with the JSON library Argo CD uses. A status outside Argo CD's six becomes Unknown, as
// there.
//
//	lua-health SCRIPT < object.json      one object, or a kubectl list (`kubectl get vcopy -A -o json`)
//
// Prints one JSON line per object: {"kind","namespace","name","status","message"}. Exits 1 if the script fails.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

type result struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

// The statuses Argo CD accepts from a script (gitops-engine's HealthStatusCode).
var valid = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: lua-health SCRIPT < object.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	objects, err := decode(input)
	if err != nil {
		fail(fmt.Errorf("cannot read the object on stdin: %w", err))
	}
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	for _, obj := range objects {
		r, err := evaluate(string(script), obj)
		if err != nil {
			fail(fmt.Errorf("%s/%s: %w", field(obj, "kind"), name(obj), err))
		}
		if err := out.Encode(r); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "lua-health:", err)
	os.Exit(1)
}

// decode reads one object or a list's items, with integers kept whole as Kubernetes' unstructured decoding does.
func decode(input []byte) ([]map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(input))
	d.UseNumber()
	var top map[string]any
	if err := d.Decode(&top); err != nil {
		return nil, err
	}
	items, isList := top["items"].([]any)
	if !isList {
		return []map[string]any{top}, nil
	}
	objects := make([]map[string]any, 0, len(items))
	for _, item := range items {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("a list item is not an object")
		}
		objects = append(objects, obj)
	}
	return objects, nil
}

func evaluate(script string, obj map[string]any) (result, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return result{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return result{}, err
	}
	ret := l.Get(-1)
	if ret.Type() != lua.LTTable {
		return result{}, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
	}
	encoded, err := luajson.Encode(ret)
	if err != nil {
		return result{}, err
	}
	var hs struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(encoded, &hs); err != nil {
		return result{}, err
	}
	if !valid[hs.Status] {
		hs = struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		}{"Unknown", "Lua returned an invalid health status"}
	}
	meta, _ := obj["metadata"].(map[string]any)
	return result{Kind: field(obj, "kind"), Namespace: field(meta, "namespace"), Name: name(obj),
		Status: hs.Status, Message: hs.Message}, nil
}

func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return lua.LNumber(i)
		}
		f, _ := v.Float64()
		return lua.LNumber(f)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

func field(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func name(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	return field(meta, "name")
}
