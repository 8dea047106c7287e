/* coro_switch_x86_64.S - the coroutine context switch for x86-64 (System V). */

/*
 * int coro_switch(void **save_sp, void *load_sp, int value)
 *
 * Pushes the callee-saved registers and the return address on the current
 * stack, stores the stack pointer in *save_sp, loads load_sp and pops the
 * same frame from it; the coro_switch() call that saved that frame returns
 * value. No signal mask, no syscall: a switch is a few instructions, and
 * coro.c tail-calls it so that each return is the one the CPU predicts. A new coroutine's stack is prepared by coro.c with r12 = the
 * coroutine, r13 = its entry function and coro_trampoline as return address.
 */
    .text
    .globl coro_switch
    .hidden coro_switch
    .type coro_switch, @function
    .p2align 4
coro_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    movl %edx, %eax
    ret
    .cfi_endproc
    .size coro_switch, .-coro_switch

    .globl coro_trampoline
    .hidden coro_trampoline
    .type coro_trampoline, @function
    .p2align 4
coro_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    callq *%r13
    ud2
    .cfi_endproc
    .size coro_trampoline, .-coro_trampoline

    .section .note.GNU-stack, "", @progbits
