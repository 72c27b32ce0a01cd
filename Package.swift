// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Tandem",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Tandem", targets: ["TandemTensor", "TandemAutograd", "TandemData", "TandemModels", "TandemTrain", "TandemEval",
                                           "TandemDistributed"]),
        .executable(name: "tandem", targets: ["tandem"]),
    ],
    traits: [
        .trait(name: "MPI", description: "Data-parallel training over MPI (needs OpenMPI: libopenmpi-dev, pkg-config ompi-c)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Already resolved through Hummingbird; named so `tandem serve` can run Swift concurrency on NIO's event loops.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        // OpenBLAS through pkg-config; every dense matrix product goes through cblas_sgemm.
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Hot loops in C with per-function AVX2 targets and run-time dispatch (no unsafeFlags).
        .target(name: "CKernels"),
        .target(name: "TandemTensor", dependencies: ["CBLAS", "CKernels"]),
        // hnswlib (Debian libhnswlib-dev, header-only C++) behind extern "C" functions.
        .target(name: "CHNSW"),
        .target(name: "TandemIndex", dependencies: ["TandemTensor", "CHNSW"]),
        .target(name: "TandemAutograd", dependencies: ["TandemTensor"]),
        .target(name: "TandemData", dependencies: ["TandemTensor"]),
        .target(name: "TandemEval", dependencies: ["TandemTensor"]),
        // OpenMPI through pkg-config, only with the MPI trait: without it nothing imports CMPI and the build needs no MPI.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // Collective operations (allreduce, allgatherv, broadcast): a local single-process implementation, and MPI's
        // behind the trait. The only module that imports MPI.
        .target(name: "TandemDistributed", dependencies: [.target(name: "CMPI", condition: .when(traits: ["MPI"]))]),
        // Charts and report pages as self-contained SVG/HTML (no dependencies: nothing to fetch to read a report).
        .target(name: "TandemReport"),
        .target(name: "TandemModels", dependencies: ["TandemTensor", "TandemAutograd", "TandemData", "TandemEval"]),
        .target(
            name: "TandemTrain",
            dependencies: ["TandemTensor", "TandemAutograd", "TandemData", "TandemModels", "TandemEval", "TandemReport",
                           "TandemDistributed", .product(name: "Yams", package: "Yams")]
        ),
        // The only module that imports Hummingbird. It reads a model directory alone: no training code, no dataset reader.
        .target(
            name: "TandemServe",
            dependencies: ["TandemTensor", "TandemAutograd", "TandemData", "TandemModels", "TandemIndex", "TandemEval",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "Prometheus", package: "swift-prometheus")]
        ),
        .executableTarget(
            name: "tandem",
            dependencies: ["TandemTrain", "TandemData", "TandemEval", "TandemModels", "TandemTensor", "TandemIndex", "TandemServe",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
        // Shared by the test suites: fixtures (the planted-clusters dataset), temporary paths, ranks as threads.
        .target(name: "TandemTestSupport", dependencies: ["TandemData", "TandemDistributed"], path: "Tests/TandemTestSupport"),
        .testTarget(name: "TandemTensorTests", dependencies: ["TandemTensor"]),
        .testTarget(name: "TandemIndexTests", dependencies: ["TandemIndex", "TandemTensor", "TandemTestSupport"]),
        .testTarget(name: "TandemServeTests", dependencies: ["TandemServe", "TandemTrain", "TandemData", "TandemTensor", "TandemTestSupport",
                                                            .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "TandemAutogradTests", dependencies: ["TandemAutograd", "TandemTensor", "TandemModels"]),
        .testTarget(name: "TandemDataTests", dependencies: ["TandemData", "TandemTensor", "TandemTestSupport"]),
        .testTarget(name: "TandemEvalTests", dependencies: ["TandemEval", "TandemTensor"]),
        .testTarget(name: "TandemReportTests", dependencies: ["TandemReport"]),
        .testTarget(name: "TandemDistributedTests", dependencies: ["TandemDistributed", "TandemTestSupport"]),
        // Runs the built `tandem` binary: one test per CLI verb.
        .testTarget(name: "TandemCLITests", dependencies: ["TandemTestSupport"]),
        .testTarget(name: "TandemTrainTests", dependencies: ["TandemTrain", "TandemModels", "TandemData", "TandemEval", "TandemTensor",
                                                            "TandemAutograd", "TandemReport", "TandemDistributed", "TandemTestSupport"]),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
