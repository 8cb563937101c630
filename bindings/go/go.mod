module berth.dev/bindings/go

go 1.19
