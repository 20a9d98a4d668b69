package xmlrpc

import (
	"bufio"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

const header = "<?xml version=\"1.0\"?>\n"

// TimeLayout is the dateTime.iso8601 layout Python's xmlrpc uses.
const TimeLayout = "20060102T15:04:05"

// EncodeCall writes a methodCall document.
func EncodeCall(w io.Writer, method string, params ...any) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(header + "<methodCall>\n<methodName>")
	xml.EscapeText(bw, []byte(method))
	bw.WriteString("</methodName>\n<params>\n")
	for _, p := range params {
		bw.WriteString("<param>\n")
		if err := writeValue(bw, reflect.ValueOf(p)); err != nil {
			return err
		}
		bw.WriteString("</param>\n")
	}
	bw.WriteString("</params>\n</methodCall>\n")
	return bw.Flush()
}

// EncodeResponse writes a methodResponse carrying v.
func EncodeResponse(w io.Writer, v any) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(header + "<methodResponse>\n<params>\n<param>\n")
	if err := writeValue(bw, reflect.ValueOf(v)); err != nil {
		return err
	}
	bw.WriteString("</param>\n</params>\n</methodResponse>\n")
	return bw.Flush()
}

// EncodeFault writes a methodResponse carrying the fault f.
func EncodeFault(w io.Writer, f *Fault) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(header + "<methodResponse>\n<fault>\n")
	if err := writeValue(bw, reflect.ValueOf(map[string]any{"faultCode": f.Code, "faultString": f.String})); err != nil {
		return err
	}
	bw.WriteString("</fault>\n</methodResponse>\n")
	return bw.Flush()
}

var timeType = reflect.TypeOf(time.Time{})

func writeValue(w *bufio.Writer, v reflect.Value) error {
	w.WriteString("<value>")
	if err := writeInner(w, v); err != nil {
		return err
	}
	w.WriteString("</value>\n")
	return nil
}

func writeInner(w *bufio.Writer, v reflect.Value) error {
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
		if v.IsNil() {
			v = reflect.Value{}
			break
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		w.WriteString("<nil/>")
		return nil
	}
	if v.Type() == timeType {
		w.WriteString("<dateTime.iso8601>" + v.Interface().(time.Time).Format(TimeLayout) + "</dateTime.iso8601>")
		return nil
	}
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			w.WriteString("<boolean>1</boolean>")
		} else {
			w.WriteString("<boolean>0</boolean>")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.WriteString("<int>" + strconv.FormatInt(v.Int(), 10) + "</int>")
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		w.WriteString("<int>" + strconv.FormatUint(v.Uint(), 10) + "</int>")
	case reflect.Float32, reflect.Float64:
		w.WriteString("<double>" + strconv.FormatFloat(v.Float(), 'f', -1, 64) + "</double>")
	case reflect.String:
		w.WriteString("<string>")
		escapeString(w, v.String())
		w.WriteString("</string>")
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			w.WriteString("<base64>" + base64.StdEncoding.EncodeToString(b) + "</base64>")
			return nil
		}
		w.WriteString("<array><data>\n")
		for i := 0; i < v.Len(); i++ {
			if err := writeValue(w, v.Index(i)); err != nil {
				return err
			}
		}
		w.WriteString("</data></array>")
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("xmlrpc: map key must be string, not %s", v.Type().Key())
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		w.WriteString("<struct>\n")
		for _, k := range keys {
			if err := writeMember(w, k, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))); err != nil {
				return err
			}
		}
		w.WriteString("</struct>")
	case reflect.Struct:
		w.WriteString("<struct>\n")
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if tag, ok := f.Tag.Lookup("xmlrpc"); ok {
				if tag == "-" {
					continue
				}
				name = strings.Split(tag, ",")[0]
			}
			if err := writeMember(w, name, v.Field(i)); err != nil {
				return err
			}
		}
		w.WriteString("</struct>")
	default:
		return fmt.Errorf("xmlrpc: cannot encode %s", v.Type())
	}
	return nil
}

func writeMember(w *bufio.Writer, name string, v reflect.Value) error {
	w.WriteString("<member>\n<name>")
	escapeString(w, name)
	w.WriteString("</name>\n")
	if err := writeValue(w, v); err != nil {
		return err
	}
	w.WriteString("</member>\n")
	return nil
}

// escapeString escapes like Python's xmlrpc: &, < and > only, so control
// characters and newlines travel as they are.
func escapeString(w *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			w.WriteString("&amp;")
		case '<':
			w.WriteString("&lt;")
		case '>':
			w.WriteString("&gt;")
		default:
			w.WriteByte(c)
		}
	}
}
