"""Tools for developers: benchmarks, bulk seeding, load tests, mutation testing, screenshots
and the `make run` process runner. The portal's runtime never imports this package."""
