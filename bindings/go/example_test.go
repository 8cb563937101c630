package berth_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	berth "berth.dev/bindings/go"
)

// Runs a container with a deadline, its output on this process's stdout.
func Example() {
	d, err := berth.NewDriver(berth.Options{HelperPath: "/usr/local/libexec/berth-init"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, err := d.Run(ctx, berth.Command{
		ID:        "hello",
		Rootfs:    "/srv/rootfs",
		Process:   berth.Process{Args: []string{"/bin/sh", "-c", "echo hello; exit 7"}},
		Resources: berth.Resources{MemoryLimit: 64 << 20},
	}, berth.Stdio{Stdout: os.Stdout, Stderr: os.Stderr}, berth.Hooks{
		OnOOM: func(id string) { fmt.Println(id, "ran out of memory") },
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("took too long, killed:", status)
	case errors.Is(err, berth.ErrAlreadyExists):
		fmt.Println("a container named hello runs already")
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println(status) // exit code 7
	}
}
