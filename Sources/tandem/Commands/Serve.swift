import ArgumentParser
import Foundation
import TandemTensor
import TandemData
import TandemTrain
import TandemModels
import TandemEval
import TandemDistributed
import TandemIndex
import TandemServe
import NIOCore
import NIOPosix

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a saved model over HTTP: /v1/recommend, /v1/similar-items, /v1/score, /healthz, /readyz, /metrics, /admin/reload.")

    struct Fuzz: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "fuzz-api",
            abstract: "Feed random and mutated bodies through the serving API's decoding and handlers; any crash fails the run.")
        @Option(help: "Model directory written by `tandem train --output`.") var modelDir: String
        @Option(help: "Number of bodies.") var iterations = 1_000_000
        @Option(help: "Seed of the body stream.") var seed: UInt64 = 1

        func run() throws {
            let backend = ServingBackend(modelDirectory: modelDir, factory: "Flat")
            _ = reportingErrors { try backend.reload() }
            let t0 = Date()
            let o = RequestFuzzer(backend: backend).run(iterations: iterations, seed: seed)
            print(String(format: "fuzz: %d bodies in %.1fs, no crash; %d answered, %d rejected with an error",
                         iterations, Date().timeIntervalSince(t0), o.accepted, o.rejected))
        }
    }
    @Option(help: "Model directory written by `tandem train --output`.") var modelDir: String
    @Option(help: "Index description: Flat (exact) or HNSW<M>[,efSearch=N].") var factory = "Flat"
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port.") var port = 8080
    @Option(help: "Per-request time limit in milliseconds; slower requests are answered 503 (0: no limit; /admin/reload has none).") var timeoutMs = 2000
    @Option(help: "Seconds a connection may send nothing (stalled mid-request, or idle keep-alive) before it is closed.") var idleTimeoutS = 60
    @Option(help: "Where request handlers run: nio (SwiftNIO's event loops also run Swift concurrency's jobs, so a request never changes thread) or default (Swift's cooperative pool).") var executor: Executor = .nio

    enum Executor: String, ExpressibleByArgument, CaseIterable { case nio, `default` }

    @Option(help: ArgumentHelp("File holding the bearer token that admin requests (POST /admin/reload, PUT and DELETE /v1/items) must send as 'Authorization: Bearer <token>'. Without it admin requests are refused (SIGHUP still reloads).", valueName: "file"))
    var adminTokenFile: String?
    @Option(help: "SwiftNIO event-loop threads that accept, parse and answer requests (default: one per core).") var eventLoops: Int?

    func run() async throws {
        if let n = eventLoops {
            guard n > 0 else { fail("--event-loops must be at least 1, got \(n)") }
            NIOSingletons.groupLoopCountSuggestion = n
        }
        switch executor {
        case .nio:
            guard NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() else {
                fail("--executor nio: this platform does not let SwiftNIO run Swift concurrency's jobs; use --executor default")
            }
        case .default: break
        }
        let token = adminTokenFile.map { path in reportingErrors { try AdminToken(reading: path) } }
        let backend = ServingBackend(modelDirectory: modelDir, factory: factory)
        let m = reportingErrors { try backend.reload() }
        print("serving \(m.version): \(m.userIds.count) users, \(m.itemIds.count) items, index \(factory), on http://\(host):\(port)"
              + (token == nil ? "; admin requests off (no --admin-token-file)" : ""))
        // SIGHUP reloads the model directory, like POST /admin/reload; a failed reload keeps the current model.
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler {
            do { print("SIGHUP: reloaded \(try backend.reload().version)") } catch { print("SIGHUP: reload failed, still serving the previous model: \(error)") }
        }
        hangup.resume()
        defer { hangup.cancel() }
        try await buildApplication(backend, host: host, port: port, timeout: timeoutMs > 0 ? .milliseconds(timeoutMs) : nil,
                                   idleTimeout: .seconds(max(1, idleTimeoutS)), adminToken: token).runService()
    }
}
