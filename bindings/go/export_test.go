package berth

// What the tests of package berth_test look at inside.

// NullStdio reports whether s reaches libberth as a NULL berth_stdio.
func NullStdio(s Stdio) bool {
	c, err := s.cStdio("test")
	return err == nil && c == nil
}

// NullHooks reports whether h reaches libberth as a NULL berth_hooks (and makes no handle).
func NullHooks(h Hooks) bool {
	ch := newCallHooks(&hookSet{user: h})
	defer ch.release()
	return ch.c == nil && ch.handle == 0
}

// HookHandles is how many hook handles d keeps for the container id until its Delete.
func HookHandles(d *Driver, id string) int {
	d.handlesMu.Lock()
	defer d.handlesMu.Unlock()
	return len(d.handles[id])
}
