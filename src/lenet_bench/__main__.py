from lenet_bench.cli import main

main()
