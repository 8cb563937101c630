// Package berth runs containers in-process through libberth, berth's C ABI (include/berth.h).
//
// A Driver runs containers: Run (create, start, wait, delete in one blocking call), or
// Create, Start, Wait and Delete one by one; Exec runs another process in a running
// container, and ExecDetached starts one without waiting (WaitExec waits for it); Kill,
// Pause, Resume, Update, State, List and Stats act on them. A container is a Command, which
// marshals to the JSON wire form of docs/command.md:
//
//	d, err := berth.NewDriver(berth.Options{})
//	if err != nil { ... }
//	defer d.Close()
//	status, err := d.Run(ctx, berth.Command{
//		ID:      "hello",
//		Rootfs:  "/srv/rootfs",
//		Process: berth.Process{Args: []string{"/bin/sh", "-c", "echo hi; exit 7"}},
//	}, berth.Stdio{Stdout: os.Stdout, Stderr: os.Stderr}, berth.Hooks{})
//	// status.Code == 7
//
// Errors are *Error values carrying one of eight kinds; test them with errors.Is and the
// sentinels (ErrNotFound, ErrInvalidArgument, ...). berth's message names the field at
// fault ("invalid command.process.cwd: ..."); an error from the OS carries its Errno, which
// errors.Is also sees (errors.Is(err, syscall.ENOSPC)).
//
// Close kills and deletes the driver's containers, unless Options.KeepContainers leaves them
// for a later driver on the same root to take back.
//
// Hooks (start, OOM, exit, console) cross from C into Go through a runtime/cgo.Handle passed
// as the C user_data: C never holds a Go pointer. The blocking calls (Run, Exec, Wait,
// WaitExec) each hold an OS thread for their duration, as any blocking cgo call does.
//
// Building: the package links libberth.so from build/lib of the repository (make stage) and
// records that directory as the run path, so `go test` works in a checkout after
// `make stage`. The berth-init helper is found through Options.HelperPath, $BERTH_HELPER, or
// beside libberth.so. Running containers needs root and Linux 5.12 or later.
package berth
