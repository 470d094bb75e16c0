import Dispatch
import Foundation

/// Runs async work on the calling thread: a task executor whose jobs the caller runs until the
/// work is done, so that an actor's methods run where the caller is. The CTAP fuzz target's
/// callback is synchronous, and a hop to the cooperative pool and back per input cost more than
/// most commands; the benchmark measures the authenticator without the hops too.
public final class CallerExecutor: TaskExecutor, @unchecked Sendable {
    private let lock = NSLock()
    private let ready = DispatchSemaphore(value: 0)
    private var jobs: [UnownedJob] = []

    public init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        lock.withLock { jobs.append(job) }
        ready.signal()
    }

    public func run<T>(_ body: @escaping @Sendable () async -> T) -> T {
        let outcome = Box<T>()
        Task(executorPreference: self) { outcome.value = await body() }
        while outcome.value == nil {
            ready.wait()  // a job from elsewhere (none in practice) is waited for, not spun on
            let job = lock.withLock { jobs.removeFirst() }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
        return outcome.value!
    }
}

/// A value a task hands back to synchronous code.
public final class Box<T>: @unchecked Sendable {
    public var value: T?
    public init() {}
}
