module berth.dev/examples/go

go 1.19

require berth.dev/bindings/go v0.0.0

replace berth.dev/bindings/go => ../../bindings/go
