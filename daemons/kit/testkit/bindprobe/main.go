// Command bindprobe is a test helper run inside task containers: it tries
// to bind each PROTO:ADDR:PORT given (udp or tcp) and prints one line for
// each, "PROTO ADDR:PORT bound" or "PROTO ADDR:PORT refused: REASON", then
// releases them all. Static (CGO_ENABLED=0), so it runs in any image.
package main

import (
	"fmt"
	"net"
	"os"
	"strings"
)

func main() {
	var held []interface{ Close() error }
	for _, a := range os.Args[1:] {
		proto, addr, ok := strings.Cut(a, ":")
		if !ok || (proto != "udp" && proto != "tcp") {
			fmt.Fprintf(os.Stderr, "bindprobe: %q: want udp:ADDR:PORT or tcp:ADDR:PORT\n", a)
			os.Exit(2)
		}
		var err error
		if proto == "udp" {
			var c net.PacketConn
			if c, err = net.ListenPacket("udp", addr); err == nil {
				held = append(held, c)
			}
		} else {
			var l net.Listener
			if l, err = net.Listen("tcp", addr); err == nil {
				held = append(held, l)
			}
		}
		if err != nil {
			fmt.Printf("%s %s refused: %v\n", proto, addr, err)
		} else {
			fmt.Printf("%s %s bound\n", proto, addr)
		}
	}
	for _, h := range held {
		h.Close()
	}
}
