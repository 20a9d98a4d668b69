// Command racy writes one variable from two goroutines without a lock: a
// data race for testkit's tests of BuildDaemon.
package main

import (
	"fmt"
	"sync"
)

func main() {
	n := 0
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n++
		}()
	}
	wg.Wait()
	fmt.Println("done", n > 0)
}
