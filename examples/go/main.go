// Command oomwatch is a small daemon-style use of the Go binding of berth: it runs a
// container under a memory limit, with a program that allocates far more than the limit,
// logs the container's events (start, OOM kill, exit) as its hooks report them, and prints
// how the container ended. SIGINT or SIGTERM cancels the run, which kills the container.
//
//	go run . -rootfs /abs/path/to/rootfs [-helper /abs/path/to/berth-init] [-limit 32]
//
// As root. The rootfs is the busybox one of scripts/build-rootfs.sh (build/rootfs).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	berth "berth.dev/bindings/go"
)

// event is one hook call, passed to the main goroutine: hooks run on berth's threads and
// should return quickly, so they only send.
type event struct {
	when time.Time
	what string
}

func main() {
	rootfs := flag.String("rootfs", "", "absolute path of the container's root filesystem (required)")
	helper := flag.String("helper", os.Getenv("BERTH_HELPER"), "the berth-init helper (default: $BERTH_HELPER, then beside libberth.so)")
	stateRoot := flag.String("root", "/run/berth-example-go", "the driver's state directory")
	limitMiB := flag.Int64("limit", 32, "memory limit of the container, MiB")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if *rootfs == "" {
		flag.Usage()
		os.Exit(2)
	}

	driver, err := berth.NewDriver(berth.Options{Root: *stateRoot, HelperPath: *helper, CgroupParent: "berth-example"})
	if err != nil {
		log.Fatalf("driver: %v", err)
	}
	defer os.RemoveAll(*stateRoot)
	defer driver.Close()
	log.Printf("libberth %s", berth.Version())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	events := make(chan event, 16)
	send := func(format string, args ...interface{}) {
		select {
		case events <- event{time.Now(), fmt.Sprintf(format, args...)}:
		default: // never block berth's thread
		}
	}
	hooks := berth.Hooks{
		OnStart: func(id string, pid int) { send("%s: started, host pid %d", id, pid) },
		OnOOM:   func(id string) { send("%s: OOM event: the kernel's OOM killer killed a process", id) },
		OnExit:  func(id string, s berth.ExitStatus) { send("%s: exited: %v", id, s) },
	}
	done, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case e := <-events:
				log.Printf("hook: %s", e.what)
			case <-done:
				for {
					select {
					case e := <-events:
						log.Printf("hook: %s", e.what)
					default:
						return
					}
				}
			}
		}
	}()

	limit := *limitMiB << 20
	cmd := berth.Command{
		ID:     fmt.Sprintf("oomwatch-%d", os.Getpid()),
		Rootfs: *rootfs,
		Process: berth.Process{Args: []string{"/bin/sh", "-c",
			`echo "allocating 200 MB under a $LIMIT_MIB MiB limit"; a=$(head -c 200000000 /dev/zero | tr '\0' x); echo "still alive?"`},
			Env: []string{fmt.Sprintf("LIMIT_MIB=%d", *limitMiB)},
		},
		// No swap beyond the limit, so the allocation cannot spill into swap.
		Resources: berth.Resources{MemoryLimit: limit, MemorySwap: limit, PidsLimit: 64},
	}
	log.Printf("running %s with a %d MiB memory limit", cmd.ID, *limitMiB)
	status, err := driver.Run(ctx, cmd, berth.Stdio{Stdout: os.Stdout, Stderr: os.Stderr}, hooks)
	// Run returns after the container's hooks have all run: every event is queued.
	close(done)
	<-drained
	switch {
	case errors.Is(err, context.Canceled):
		log.Printf("cancelled (%v): container killed, %v", err, status)
	case err != nil:
		log.Fatalf("run: %v", err)
	default:
		log.Printf("exit status: %v (code %d, signal %d, oom_killed %t)", status, status.Code, int(status.Signal), status.OOMKilled)
	}
	if status.OOMKilled {
		log.Printf("the container was OOM killed, as expected")
	}
}
