//! The interpreter: runs a [`Program`] over an [`ObjectHeap`].

use core::cmp::Ordering;
use core::fmt::Write as _;
use std::io::Write;

use mem3_object::{Error as HeapError, Handle, ObjectHeap, ObjectRef};

use crate::error::{RuntimeError, RuntimeErrorKind as Kind};
use crate::program::{Instr, Program};

/// The pool size when neither the options nor the program's `.pool` set one: 64 KiB.
pub const DEFAULT_POOL_SIZE: usize = 64 * 1024;
/// The default value-stack limit: 1M values (8 MiB of handles).
pub const DEFAULT_MAX_STACK: usize = 1 << 20;
/// The default call-stack limit: 64K frames.
pub const DEFAULT_MAX_CALL_DEPTH: usize = 1 << 16;

/// How to run a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The pool size in bytes; overrides the program's `.pool`. `None`: the program's `.pool`, or
    /// [`DEFAULT_POOL_SIZE`]. Only used by [`run_program`](crate::run_program) and
    /// [`with_vm`](crate::with_vm), which make the pool; [`Vm::new`] takes a heap made by the caller.
    pub pool_size: Option<usize>,
    /// Stop with "step limit" before running instruction number `max_steps + 1`. `None`: no limit.
    pub max_steps: Option<u64>,
    /// The most values the value stack may hold.
    pub max_stack: usize,
    /// The most return addresses the call stack may hold.
    pub max_call_depth: usize,
    /// Whether an allocation that does not fit may collect garbage and retry. Turning it off makes a pool
    /// full of garbage fail with "out of memory". `gc` instructions still run.
    pub collect: bool,
    /// Whether an allocation that does not fit after collecting may defragment the pool and retry.
    /// Turning it off makes a fragmented pool fail with "out of memory". `defrag` instructions still run.
    pub defragment: bool,
    /// Test mode: defragment before every allocation. Output must be the same as without it.
    pub stress_defragment: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pool_size: None,
            max_steps: None,
            max_stack: DEFAULT_MAX_STACK,
            max_call_depth: DEFAULT_MAX_CALL_DEPTH,
            collect: true,
            defragment: true,
            stress_defragment: false,
        }
    }
}

impl Options {
    /// The pool size a run of `program` uses: [`pool_size`](Options::pool_size), else the program's
    /// `.pool`, else [`DEFAULT_POOL_SIZE`].
    pub fn pool_size_for(&self, program: &Program) -> usize {
        self.pool_size.or(program.pool_size()).unwrap_or(DEFAULT_POOL_SIZE)
    }
}

/// What a run did, counted by the VM.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Instructions executed to completion (one that failed is not counted: it changed nothing).
    pub steps: u64,
    /// Objects allocated.
    pub allocations: u64,
    /// Objects freed by `free`.
    pub explicit_frees: u64,
    /// Garbage collections: `gc` instructions plus those run because an allocation did not fit.
    pub collections: u64,
    /// Objects freed by garbage collections.
    pub objects_collected: u64,
    /// Defragmentations: `defrag` instructions, those run because an allocation did not fit, and (in
    /// stress mode) those before every allocation.
    pub defragmentations: u64,
    /// Objects moved by defragmentations.
    pub objects_moved: u64,
    /// Bytes moved by defragmentations.
    pub bytes_moved: u64,
    /// The most values the value stack held at once.
    pub peak_stack: usize,
    /// The deepest the call stack was.
    pub peak_call_depth: usize,
}

/// What a VM reports to its observer (see [`Vm::set_observer`]), as it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An object was allocated.
    Allocated,
    /// A garbage collection is about to run.
    CollectionStart,
    /// A garbage collection freed `freed` objects.
    CollectionEnd {
        /// Objects freed.
        freed: u64,
    },
    /// A defragmentation is about to run.
    DefragmentStart,
    /// A defragmentation moved `moved` objects.
    DefragmentEnd {
        /// Objects moved.
        moved: u64,
    },
}

/// A callback that sees every [`Event`] with the VM as it is at that moment (its heap, figures and line).
pub type Observer = Box<dyn FnMut(Event, &Vm<'_, '_>)>;

/// A number read from an object.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            // Mixing ints and floats takes both as floats (docs/vm.md); the rounding is intended.
            Num::Int(v) => v as f64,
            Num::Float(v) => v,
        }
    }
}

/// What an operand is, for type errors.
fn describe(value: ObjectRef<'_>) -> &'static str {
    match value {
        ObjectRef::Int(_) => "an int",
        ObjectRef::Float(_) => "a float",
        ObjectRef::Str(_) => "a string",
    }
}

/// Appends `v` in decimal, as `{v}` formats it, without the formatting machinery (`tostr` of an int is
/// one of the commonest string builders). Measured: about 200 instructions for a 10-digit number against
/// `core::fmt`'s 250; pushing the digits one `char` at a time instead of one checked copy costs more.
pub(crate) fn push_int(out: &mut String, v: i64) {
    // 19 digits and a sign at most.
    let mut text = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut start = text.len();
    loop {
        start -= 1;
        text[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        start -= 1;
        text[start] = b'-';
    }
    // ASCII, so always valid UTF-8; one copy into the string.
    out.push_str(core::str::from_utf8(&text[start..]).unwrap_or_default());
}

/// Maps a heap error on reading or freeing a handle: a stale handle is the program's fault, anything else
/// is the heap's.
fn handle_error(instruction: &'static str, e: HeapError) -> Kind {
    match e {
        HeapError::StaleHandle => Kind::StaleHandle { instruction },
        e => Kind::Heap(e),
    }
}

fn output_error(e: std::io::Error) -> Kind {
    Kind::Output(e.kind())
}

/// The virtual machine: a program, the heap holding its values, a value stack, a call stack and the
/// global variables.
///
/// `'p` is the program's lifetime, `'a` the heap's region's.
#[derive(Debug)]
pub struct Vm<'p, 'a> {
    program: &'p Program,
    heap: ObjectHeap<'a>,
    options: Options,
    /// The next instruction to run; `program.code.len()` or more when the program has ended.
    pc: usize,
    stack: Vec<Handle>,
    /// Pushes need no growth while the value stack is shorter than this: its capacity, at most
    /// `max_stack` (both stacks live on the global heap and grow fallibly, see [`room_for_one_more`]).
    stack_room: usize,
    calls: Vec<usize>,
    /// `stack_room` for the call stack, at most `max_call_depth`.
    call_room: usize,
    /// Indexed by the program's variable ids.
    globals: Vec<Option<Handle>>,
    /// Reused buffer for strings built from heap data before they are allocated into the same heap.
    scratch: String,
    /// The garbage collector's roots, gathered from the stack and the variables at each collection; kept
    /// between collections only for its capacity.
    roots: Vec<Handle>,
    /// The run's figures but `steps`, which [`stats`](Vm::stats) derives from `steps_left`.
    stats: RunStats,
    /// Instructions the run may still execute: `max_steps` (`u64::MAX` without a limit) less those it ran.
    /// One count for both the step figure and the limit, so the loop's head counts down and compares with
    /// zero.
    steps_left: u64,
    /// Told of allocations, collections and defragmentations; `None` costs one branch per allocation.
    observer: Option<ObserverSlot>,
}

/// The observer, behind a `Debug` that does not look inside.
struct ObserverSlot(Observer);

impl core::fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Observer")
    }
}

impl<'p, 'a> Vm<'p, 'a> {
    /// A VM ready to run `program` from its first instruction, with its values in `heap`.
    ///
    /// Turns off the heap's own defragment-on-failure: the VM collects and defragments itself, in the order
    /// docs/vm.md gives. The heap may already hold objects; the VM never touches them except that `gc` frees
    /// them (they are not reachable from the program).
    pub fn new(program: &'p Program, mut heap: ObjectHeap<'a>, options: Options) -> Self {
        heap.set_defragment_on_failure(false);
        let steps_left = options.max_steps.unwrap_or(u64::MAX);
        Vm {
            program,
            heap,
            options,
            pc: 0,
            stack: Vec::new(),
            stack_room: 0,
            calls: Vec::new(),
            call_room: 0,
            globals: vec![None; program.globals.len()],
            scratch: String::new(),
            roots: Vec::new(),
            stats: RunStats::default(),
            steps_left,
            observer: None,
        }
    }

    /// The heap holding the program's values.
    pub fn heap(&self) -> &ObjectHeap<'a> {
        &self.heap
    }

    /// Gives back the heap.
    pub fn into_heap(self) -> ObjectHeap<'a> {
        self.heap
    }

    /// The figures of the run so far.
    pub fn stats(&self) -> RunStats {
        let budget = self.options.max_steps.unwrap_or(u64::MAX);
        RunStats { steps: budget - self.steps_left, ..self.stats }
    }

    /// Sets the callback told of every allocation, collection and defragmentation (e.g. to take heap
    /// maps over a run); `None` removes it.
    pub fn set_observer(&mut self, observer: Option<Observer>) {
        self.observer = observer.map(ObserverSlot);
    }

    /// The source line of the instruction to run next (or the last one, once the program has ended).
    pub fn line(&self) -> usize {
        self.program.line(self.pc).or_else(|| self.program.lines.last().copied()).unwrap_or(0)
    }

    /// Tells the observer, if any, of `event`.
    #[cold]
    fn notify(&mut self, event: Event) {
        if let Some(mut observer) = self.observer.take() {
            (observer.0)(event, self);
            self.observer = Some(observer);
        }
    }

    /// The options the VM runs with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The value stack, bottom first.
    pub fn stack(&self) -> &[Handle] {
        &self.stack
    }

    /// The handle bound to global variable `name`, if the program stored one.
    pub fn variable(&self, name: &str) -> Option<Handle> {
        let id = self.program.globals.iter().position(|g| &**g == name)?;
        self.globals[id]
    }

    /// Runs the program until it halts, runs past its last instruction or fails, writing what it prints
    /// to `out` (flushed at the end, also after an error). Returns the run's figures.
    ///
    /// After an error the VM stays at the failing instruction; running again retries it.
    pub fn run(&mut self, out: &mut dyn Write) -> Result<RunStats, RuntimeError> {
        let result = self.run_loop(out);
        let flushed = out.flush();
        if let Err(kind) = result {
            let line = self.program.line(self.pc).unwrap_or(0);
            return Err(RuntimeError { line, kind });
        }
        if let Err(e) = flushed {
            let line = self.program.lines.last().copied().unwrap_or(0);
            return Err(RuntimeError { line, kind: output_error(e) });
        }
        Ok(self.stats())
    }

    fn run_loop(&mut self, out: &mut dyn Write) -> Result<(), Kind> {
        let program = self.program;
        while let Some(&instr) = program.code.get(self.pc) {
            if self.steps_left == 0 {
                self.out_of_steps()?;
            }
            self.step(instr, out)?;
            // Counted once it has run: a failed instruction changes nothing, not even the count.
            self.steps_left -= 1;
        }
        Ok(())
    }

    /// The run has used up `steps_left`: "step limit" when `max_steps` is set; without a limit (after
    /// `u64::MAX` steps, which no run reaches) the count stays at its largest and the run goes on.
    #[cold]
    #[inline(never)]
    fn out_of_steps(&mut self) -> Result<(), Kind> {
        match self.options.max_steps {
            Some(limit) => Err(Kind::StepLimit { limit }),
            None => {
                self.steps_left = 1;
                Ok(())
            }
        }
    }

    /// Runs one instruction: on success `pc` names the next one. On failure nothing the program can see
    /// has changed (the stack, the variables, `pc`): every check and every allocation comes before the
    /// first change, so a retry runs the same instruction on the same operands. An allocation that failed
    /// may have collected garbage and defragmented, which no live value notices.
    ///
    /// Always inlined into its one caller, the loop: whether LLVM inlines a function this large is a
    /// threshold that small changes anywhere in it cross, and a call per instruction costs 15-20%.
    #[inline(always)]
    fn step(&mut self, instr: Instr, out: &mut dyn Write) -> Result<(), Kind> {
        let mut next = self.pc + 1;
        match instr {
            Instr::PushInt(v) => self.push_new(ObjectRef::Int(v))?,
            Instr::PushFloat(v) => self.push_new(ObjectRef::Float(v))?,
            Instr::PushStr(id) => {
                let program = self.program;
                self.push_new(ObjectRef::Str(&program.strings[id]))?;
            }
            Instr::Pop => {
                self.need(instr, 1)?;
                self.stack.pop();
            }
            Instr::Dup => {
                self.need(instr, 1)?;
                self.push(self.stack[self.stack.len() - 1])?;
            }
            Instr::Swap => {
                self.need(instr, 2)?;
                let n = self.stack.len();
                self.stack.swap(n - 1, n - 2);
            }
            Instr::Over => {
                self.need(instr, 2)?;
                self.push(self.stack[self.stack.len() - 2])?;
            }
            Instr::Add => self.arith(instr, i64::checked_add)?,
            Instr::Sub => self.arith(instr, i64::checked_sub)?,
            Instr::Mul => self.arith(instr, i64::checked_mul)?,
            Instr::Div => self.arith(instr, i64::checked_div)?,
            Instr::Mod => self.arith(instr, i64::checked_rem)?,
            Instr::Neg => {
                self.need(instr, 1)?;
                let result = match num(&self.heap, instr, self.top(0))? {
                    Num::Int(v) => Num::Int(
                        v.checked_neg().ok_or(Kind::IntegerOverflow { instruction: "neg" })?,
                    ),
                    Num::Float(v) => Num::Float(-v),
                };
                self.replace(1, result.into())?;
            }
            Instr::Concat => {
                self.need(instr, 2)?;
                let (a, b) = (
                    string(&self.heap, instr, self.top(1))?,
                    string(&self.heap, instr, self.top(0))?,
                );
                build_string(&mut self.scratch, &[a, b])?;
                self.replace_with_scratch(2)?;
            }
            Instr::ToStr => {
                self.need(instr, 1)?;
                let shown = number_first(&self.heap, instr, self.top(0))?;
                self.scratch.clear();
                match shown {
                    ObjectRef::Int(v) => push_int(&mut self.scratch, v),
                    // Writing to a `String` cannot fail.
                    ObjectRef::Float(v) => drop(write!(self.scratch, "{v:?}")),
                    ObjectRef::Str(s) => build_string(&mut self.scratch, &[s])?,
                }
                self.replace_with_scratch(1)?;
            }
            Instr::Len => {
                self.need(instr, 1)?;
                let n = string(&self.heap, instr, self.top(0))?.chars().count();
                self.replace(1, ObjectRef::Int(i64::try_from(n).unwrap_or(i64::MAX)))?;
            }
            Instr::Eq => self.compare(instr, |a, b| a == b)?,
            Instr::Ne => self.compare(instr, |a, b| a != b)?,
            Instr::Lt => self.compare(instr, |a, b| a < b)?,
            Instr::Le => self.compare(instr, |a, b| a <= b)?,
            Instr::Gt => self.compare(instr, |a, b| a > b)?,
            Instr::Ge => self.compare(instr, |a, b| a >= b)?,
            Instr::Store(id) => {
                self.need(instr, 1)?;
                self.globals[id] = self.stack.pop();
            }
            Instr::Load(id) => {
                let handle = self.globals[id].ok_or_else(|| Kind::UnboundVariable {
                    name: self.program.globals[id].to_string(),
                })?;
                self.push(handle)?;
            }
            Instr::Jmp(target) => next = target,
            Instr::Jz(target) | Instr::Jnz(target) => {
                // The usual condition, an int, read in one step; anything else (and every error) the
                // general way.
                let c = match self.stack.last().and_then(|&h| self.heap.get_int(h)) {
                    Some(c) => c,
                    None => self.condition(instr)?,
                };
                self.stack.pop();
                if (c == 0) == matches!(instr, Instr::Jz(_)) {
                    next = target;
                }
            }
            Instr::Call(target) => {
                if self.calls.len() >= self.call_room {
                    self.grow_calls()?;
                }
                self.calls.push(next);
                if self.calls.len() > self.stats.peak_call_depth {
                    self.stats.peak_call_depth = self.calls.len();
                }
                next = target;
            }
            Instr::Ret => next = self.calls.pop().ok_or(Kind::ReturnWithoutCall)?,
            Instr::Print => {
                self.need(instr, 1)?;
                match value(&self.heap, instr, self.top(0))? {
                    ObjectRef::Int(v) => writeln!(out, "{v}"),
                    ObjectRef::Float(v) => writeln!(out, "{v:?}"),
                    ObjectRef::Str(s) => {
                        out.write_all(s.as_bytes()).and_then(|()| out.write_all(b"\n"))
                    }
                }
                .map_err(output_error)?;
                self.stack.pop();
            }
            Instr::Free => {
                self.need(instr, 1)?;
                self.heap.free(self.top(0)).map_err(|e| handle_error("free", e))?;
                self.stats.explicit_frees += 1;
                self.stack.pop();
            }
            Instr::Gc => {
                self.collect()?;
            }
            Instr::Defrag => self.defragment(),
            Instr::Halt => next = self.program.code.len(),
        }
        self.pc = next;
        Ok(())
    }

    /// Fails with "stack underflow" unless the stack holds `n` values.
    #[inline(always)]
    fn need(&self, instr: Instr, n: usize) -> Result<(), Kind> {
        if self.stack.len() < n {
            return Err(Kind::StackUnderflow {
                instruction: instr.name(),
                needed: n,
                available: self.stack.len(),
            });
        }
        Ok(())
    }

    /// The handle `depth` values below the top (0 is the top). The caller checked the depth with `need`.
    #[inline(always)]
    fn top(&self, depth: usize) -> Handle {
        self.stack[self.stack.len() - 1 - depth]
    }

    /// Pushes a handle, failing with "stack limit" when the stack is full.
    #[inline(always)]
    fn push(&mut self, handle: Handle) -> Result<(), Kind> {
        if self.stack.len() >= self.stack_room {
            self.grow_stack()?;
        }
        self.stack.push(handle);
        if self.stack.len() > self.stats.peak_stack {
            self.stats.peak_stack = self.stack.len();
        }
        Ok(())
    }

    /// Allocates `value` and pushes its handle; checks the stack limit first so nothing is allocated in vain.
    #[inline(always)]
    fn push_new(&mut self, value: ObjectRef<'_>) -> Result<(), Kind> {
        if self.stack.len() >= self.stack_room {
            self.grow_stack()?;
        }
        let handle = self.alloc(value)?;
        // The limit was checked above, and an allocation's collection leaves the stack as it was.
        self.stack.push(handle);
        if self.stack.len() > self.stats.peak_stack {
            self.stats.peak_stack = self.stack.len();
        }
        Ok(())
    }

    /// Room for one more value on the value stack: "stack limit" at `max_stack` values, or when the system
    /// refuses the memory.
    #[cold]
    #[inline(never)]
    fn grow_stack(&mut self) -> Result<(), Kind> {
        let limit = self.options.max_stack;
        self.stack_room = room_for_one_more(&mut self.stack, limit).map_err(|full| match full {
            Full::Limit => Kind::ValueStackLimit { limit },
            Full::NoMemory { len } => Kind::StackMemory { stack: "value stack", len },
        })?;
        Ok(())
    }

    /// [`grow_stack`](Vm::grow_stack) for the call stack and `max_call_depth`.
    #[cold]
    #[inline(never)]
    fn grow_calls(&mut self) -> Result<(), Kind> {
        let limit = self.options.max_call_depth;
        self.call_room = room_for_one_more(&mut self.calls, limit).map_err(|full| match full {
            Full::Limit => Kind::CallStackLimit { limit },
            Full::NoMemory { len } => Kind::StackMemory { stack: "call stack", len },
        })?;
        Ok(())
    }

    /// Replaces the top `n` operands with a new object holding `value`. The operands stay on the stack
    /// until the allocation has succeeded, so an instruction that runs out of memory leaves the stack as it
    /// was and can be retried (a collection the allocation triggers keeps them, as roots).
    #[inline(always)]
    fn replace(&mut self, n: usize, value: ObjectRef<'_>) -> Result<(), Kind> {
        let handle = self.alloc(value)?;
        self.put(n, handle);
        Ok(())
    }

    /// Puts `handle`, just allocated, in place of the top `n` operands.
    #[inline(always)]
    fn put(&mut self, n: usize, handle: Handle) {
        debug_assert!(n >= 1 && self.stack.len() >= n);
        // The result takes the deepest operand's place and the rest go: no stack limit to check and no room
        // to make, as `n >= 1`.
        let at = self.stack.len() - n;
        self.stack[at] = handle;
        self.stack.truncate(at + 1);
    }

    /// [`replace`](Vm::replace) with the string in the scratch buffer.
    fn replace_with_scratch(&mut self, n: usize) -> Result<(), Kind> {
        let text = core::mem::take(&mut self.scratch);
        let result = self.alloc_str(&text).map(|handle| self.put(n, handle));
        self.scratch = text;
        result
    }

    /// `add`, `sub`, `mul`, `div`, `mod`: two ints whose `int_op` gives a result in the loop; anything else
    /// (floats, strings, a zero divisor, an overflow, every error) by [`arith_general`](Vm::arith_general).
    #[inline(always)]
    fn arith(&mut self, instr: Instr, int_op: fn(i64, i64) -> Option<i64>) -> Result<(), Kind> {
        if let [.., a, b] = self.stack[..] {
            if let Some(a) = self.heap.get_int(a) {
                if let Some(b) = self.heap.get_int(b) {
                    if let Some(r) = int_op(a, b) {
                        return self.replace(2, ObjectRef::Int(r));
                    }
                }
            }
        }
        self.arith_general(instr)
    }

    /// `eq`, `ne`, `lt`, `le`, `gt`, `ge`: two ints compared with `int_op` in the loop, anything else (and
    /// every error) by [`compare_general`](Vm::compare_general).
    #[inline(always)]
    fn compare(&mut self, instr: Instr, int_op: fn(&i64, &i64) -> bool) -> Result<(), Kind> {
        if let [.., a, b] = self.stack[..] {
            if let Some(a) = self.heap.get_int(a) {
                if let Some(b) = self.heap.get_int(b) {
                    return self.replace(2, ObjectRef::Int(i64::from(int_op(&a, &b))));
                }
            }
        }
        self.compare_general(instr)
    }

    /// [`compare`](Vm::compare) for any operands: numbers by value, strings by content, the errors.
    #[inline(never)]
    fn compare_general(&mut self, instr: Instr) -> Result<(), Kind> {
        self.need(instr, 2)?;
        let (a, b) = (
            number_first(&self.heap, instr, self.top(1))?,
            number_first(&self.heap, instr, self.top(0))?,
        );
        let holds = if matches!(instr, Instr::Eq | Instr::Ne) {
            let equal = match (a, b) {
                (ObjectRef::Str(a), ObjectRef::Str(b)) => a == b,
                (ObjectRef::Str(_), _) | (_, ObjectRef::Str(_)) => false,
                (ObjectRef::Int(a), ObjectRef::Int(b)) => a == b,
                (a, b) => to_num(a).as_f64() == to_num(b).as_f64(),
            };
            equal == matches!(instr, Instr::Eq)
        } else {
            let ordering = match (a, b) {
                (ObjectRef::Str(a), ObjectRef::Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
                (a @ ObjectRef::Str(_), b) | (a, b @ ObjectRef::Str(_)) => {
                    return Err(Kind::TypeError {
                        instruction: instr.name(),
                        expected: "two numbers or two strings",
                        found: if matches!(a, ObjectRef::Str(_)) {
                            number_after_string(b)
                        } else {
                            number_before_string(a)
                        },
                    });
                }
                (ObjectRef::Int(a), ObjectRef::Int(b)) => Some(a.cmp(&b)),
                (a, b) => to_num(a).as_f64().partial_cmp(&to_num(b).as_f64()),
            };
            ordering.is_some_and(|o| match instr {
                Instr::Lt => o == Ordering::Less,
                Instr::Le => o != Ordering::Greater,
                Instr::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            })
        };
        self.replace(2, ObjectRef::Int(i64::from(holds)))
    }

    /// The int `jz` or `jnz` tests, read the general way (a float or a string is a type error).
    #[inline(never)]
    fn condition(&mut self, instr: Instr) -> Result<i64, Kind> {
        self.need(instr, 1)?;
        match number_first(&self.heap, instr, self.top(0))? {
            ObjectRef::Int(c) => Ok(c),
            other => Err(Kind::TypeError {
                instruction: instr.name(),
                expected: "an int",
                found: describe(other),
            }),
        }
    }

    /// [`arith`](Vm::arith) for any operands, with the exact errors.
    #[inline(never)]
    fn arith_general(&mut self, instr: Instr) -> Result<(), Kind> {
        self.need(instr, 2)?;
        let a = num(&self.heap, instr, self.top(1))?;
        let b = num(&self.heap, instr, self.top(0))?;
        let instruction = instr.name();
        let result = match (a, b) {
            (Num::Int(a), Num::Int(b)) => {
                if matches!(instr, Instr::Div | Instr::Mod) && b == 0 {
                    return Err(Kind::DivisionByZero { instruction });
                }
                let r = match instr {
                    Instr::Add => a.checked_add(b),
                    Instr::Sub => a.checked_sub(b),
                    Instr::Mul => a.checked_mul(b),
                    Instr::Div => a.checked_div(b),
                    // `i64::MIN % -1` is 0, not an overflow: the remainder is representable.
                    _ => Some(a.wrapping_rem(b)),
                };
                Num::Int(r.ok_or(Kind::IntegerOverflow { instruction })?)
            }
            (a, b) => {
                let (a, b) = (a.as_f64(), b.as_f64());
                Num::Float(match instr {
                    Instr::Add => a + b,
                    Instr::Sub => a - b,
                    Instr::Mul => a * b,
                    Instr::Div => a / b,
                    _ => a % b,
                })
            }
        };
        self.replace(2, result.into())
    }

    /// Allocates an object for `value`. When it does not fit: collect and retry; then, if defragmenting is
    /// on and the free space would hold it, defragment and retry; then fail with "out of memory".
    ///
    /// Always inlined: with the arithmetic's and comparisons' arms each allocating, LLVM called it out of
    /// line, its `Result` through memory (fib +1.7%, arith +3.0%).
    ///
    /// A number goes to the heap's number path (`alloc_int`, `alloc_float`), whose block size is a constant;
    /// a string built in the scratch buffer comes through [`alloc_str`](Vm::alloc_str), without the match on
    /// the kind, which LLVM did not fold there (torture +1.1%).
    #[inline(always)]
    fn alloc(&mut self, value: ObjectRef<'_>) -> Result<Handle, Kind> {
        if self.options.stress_defragment {
            return self.alloc_slow(value);
        }
        let first = match value {
            ObjectRef::Int(v) => self.heap.alloc_int(v),
            ObjectRef::Float(v) => self.heap.alloc_float(v),
            ObjectRef::Str(_) => self.heap.alloc(value),
        };
        self.allocated(first, value)
    }

    /// [`alloc`](Vm::alloc) of a string.
    #[inline(always)]
    fn alloc_str(&mut self, s: &str) -> Result<Handle, Kind> {
        let value = ObjectRef::Str(s);
        if self.options.stress_defragment {
            return self.alloc_slow(value);
        }
        let first = self.heap.alloc(value);
        self.allocated(first, value)
    }

    /// The end of [`alloc`](Vm::alloc): the first attempt's result counted, or the collection and
    /// defragmentation sequence after a failure they may cure.
    #[inline(always)]
    fn allocated(
        &mut self,
        first: Result<Handle, HeapError>,
        value: ObjectRef<'_>,
    ) -> Result<Handle, Kind> {
        match first {
            Ok(handle) => {
                self.stats.allocations += 1;
                if self.observer.is_some() {
                    self.notify(Event::Allocated);
                }
                Ok(handle)
            }
            Err(e) if e.is_out_of_memory() || matches!(e, HeapError::TooManyHandles) => {
                self.alloc_slow(value)
            }
            Err(e) => Err(Kind::Heap(e)),
        }
    }

    /// [`alloc`](Vm::alloc) after a first attempt that did not fit (or, in stress mode, instead of it):
    /// the collection and defragmentation sequence.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&mut self, value: ObjectRef<'_>) -> Result<Handle, Kind> {
        if self.options.stress_defragment {
            self.defragment();
            if let Ok(handle) = self.try_alloc(value)? {
                return Ok(handle);
            }
        }
        let freed = if self.options.collect { self.collect()? } else { 0 };
        if freed > 0 && self.options.defragment {
            // Compact what survived: the free space becomes one block at the top of the pool, which the
            // pool carves from in O(1) until the next collection. It costs in proportion to the live set.
            self.defragment();
        }
        let mut last = match self.try_alloc(value)? {
            Ok(handle) => return Ok(handle),
            Err(e) => e,
        };
        if self.options.defragment && self.heap.would_fit_after_defragment(value) {
            self.defragment();
            match self.try_alloc(value)? {
                Ok(handle) => return Ok(handle),
                Err(e) => last = e,
            }
        }
        Err(if last.is_out_of_memory() { Kind::OutOfMemory(last) } else { Kind::Heap(last) })
    }

    /// One allocation attempt: `Ok(Err(e))` for a failure a collection or defragmentation may cure.
    fn try_alloc(&mut self, value: ObjectRef<'_>) -> Result<Result<Handle, HeapError>, Kind> {
        match self.heap.alloc(value) {
            Ok(handle) => {
                self.stats.allocations += 1;
                if self.observer.is_some() {
                    self.notify(Event::Allocated);
                }
                Ok(Ok(handle))
            }
            Err(e) if e.is_out_of_memory() || matches!(e, HeapError::TooManyHandles) => Ok(Err(e)),
            Err(e) => Err(Kind::Heap(e)),
        }
    }

    /// Frees every object not reachable from the value stack or a variable: gathers those roots (a stale one
    /// keeps nothing alive) and lets the heap free the rest. O(r log r for r roots + handle slots).
    fn collect(&mut self) -> Result<u64, Kind> {
        if self.observer.is_some() {
            self.notify(Event::CollectionStart);
        }
        let freed = self.sweep();
        if self.observer.is_some() {
            let freed = freed.as_ref().map_or(0, |&n| n);
            self.notify(Event::CollectionEnd { freed });
        }
        freed
    }

    /// [`collect`](Vm::collect)'s work.
    fn sweep(&mut self) -> Result<u64, Kind> {
        self.roots.clear();
        let roots = self.stack.len() + self.globals.len();
        if self.roots.try_reserve(roots).is_err() {
            return Err(Kind::StackMemory {
                stack: "collector's list of roots",
                len: self.roots.capacity(),
            });
        }
        self.roots.extend(self.stack.iter().chain(self.globals.iter().flatten()));
        self.stats.collections += 1;
        let freed = self.heap.retain_handles(&self.roots).map_err(Kind::Heap)? as u64;
        self.stats.objects_collected += freed;
        Ok(freed)
    }

    /// Defragments the pool and counts it.
    fn defragment(&mut self) {
        if self.observer.is_some() {
            self.notify(Event::DefragmentStart);
        }
        let moved = self.heap.defragment();
        if self.observer.is_some() {
            self.notify(Event::DefragmentEnd { moved: moved.moved_objects as u64 });
        }
        self.stats.defragmentations += 1;
        self.stats.objects_moved += moved.moved_objects as u64;
        self.stats.bytes_moved += moved.moved_bytes as u64;
    }
}

/// Builds the concatenation of `parts` in `scratch` (cleared first), growing it fallibly: it lives outside
/// the pool, and a program must not be able to abort the process through it.
fn build_string(scratch: &mut String, parts: &[&str]) -> Result<(), Kind> {
    let len = parts.iter().map(|p| p.len()).sum();
    scratch.clear();
    scratch.try_reserve(len).map_err(|_| Kind::StringMemory { len })?;
    for part in parts {
        scratch.push_str(part);
    }
    Ok(())
}

/// Why [`room_for_one_more`] made no room.
enum Full {
    /// The stack holds its limit.
    Limit,
    /// The system refused the memory to grow past `len` entries.
    NoMemory { len: usize },
}

/// Makes room in `stack` for one more entry within `limit` entries, growing it (doubled, from 64, to at most
/// `limit`) only when it is full, and fallibly: the VM's stacks live outside the pool, and a program must
/// not be able to abort the process through them. Returns the length below which a push needs no growth.
fn room_for_one_more<T>(stack: &mut Vec<T>, limit: usize) -> Result<usize, Full> {
    let len = stack.len();
    if len >= limit {
        return Err(Full::Limit);
    }
    if len == stack.capacity() {
        let more = len.max(64).min(limit - len);
        stack.try_reserve_exact(more).map_err(|_| Full::NoMemory { len })?;
    }
    Ok(stack.capacity().min(limit))
}

/// The value of `handle`'s object. Inlined into every instruction that reads, with the errors built out of
/// line, so a read that succeeds costs the handle check, the pool's block check and the header compares.
#[inline(always)]
fn value<'h>(
    heap: &'h ObjectHeap<'_>,
    instr: Instr,
    handle: Handle,
) -> Result<ObjectRef<'h>, Kind> {
    match heap.get(handle) {
        Ok(value) => Ok(value),
        Err(e) => Err(read_error(instr, e)),
    }
}

/// [`value`] for an operand that is usually a number (arithmetic, comparisons, conditions, `tostr`): the
/// heap reads a number in fewer steps and anything else as `value` would.
#[inline(always)]
fn number_first<'h>(
    heap: &'h ObjectHeap<'_>,
    instr: Instr,
    handle: Handle,
) -> Result<ObjectRef<'h>, Kind> {
    match heap.get_expecting_number(handle) {
        Ok(value) => Ok(value),
        Err(e) => Err(read_error(instr, e)),
    }
}

#[cold]
#[inline(never)]
fn read_error(instr: Instr, e: HeapError) -> Kind {
    handle_error(instr.name(), e)
}

#[inline(always)]
fn num(heap: &ObjectHeap<'_>, instr: Instr, handle: Handle) -> Result<Num, Kind> {
    match number_first(heap, instr, handle)? {
        ObjectRef::Int(v) => Ok(Num::Int(v)),
        ObjectRef::Float(v) => Ok(Num::Float(v)),
        other => Err(type_error(instr, "numbers", other)),
    }
}

#[inline(always)]
fn string<'h>(heap: &'h ObjectHeap<'_>, instr: Instr, handle: Handle) -> Result<&'h str, Kind> {
    match value(heap, instr, handle)? {
        ObjectRef::Str(s) => Ok(s),
        other => Err(type_error(instr, "strings", other)),
    }
}

/// "type error": `instr` wanted `expected` and found `found`.
#[cold]
#[inline(never)]
fn type_error(instr: Instr, expected: &'static str, found: ObjectRef<'_>) -> Kind {
    Kind::TypeError { instruction: instr.name(), expected, found: describe(found) }
}

/// The number in a value known not to be a string.
fn to_num(value: ObjectRef<'_>) -> Num {
    match value {
        ObjectRef::Int(v) => Num::Int(v),
        ObjectRef::Float(v) => Num::Float(v),
        ObjectRef::Str(_) => unreachable!("strings are matched before numbers"),
    }
}

fn number_after_string(b: ObjectRef<'_>) -> &'static str {
    match b {
        ObjectRef::Float(_) => "a string and a float",
        _ => "a string and an int",
    }
}

fn number_before_string(a: ObjectRef<'_>) -> &'static str {
    match a {
        ObjectRef::Float(_) => "a float and a string",
        _ => "an int and a string",
    }
}

impl From<Num> for ObjectRef<'_> {
    fn from(n: Num) -> Self {
        match n {
            Num::Int(v) => ObjectRef::Int(v),
            Num::Float(v) => ObjectRef::Float(v),
        }
    }
}
