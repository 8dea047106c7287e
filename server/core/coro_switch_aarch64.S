/* coro_switch_aarch64.S - the coroutine context switch for AArch64 (AAPCS64). */

/*
 * int coro_switch(void **save_sp, void *load_sp, int value)
 *
 * Saves x19-x30 and d8-d15 (the callee-saved registers, x30 being the return
 * address) in a 176-byte frame on the current stack, stores sp in *save_sp,
 * loads load_sp and restores the same frame from it; the coro_switch() call
 * that saved that frame returns value. A new coroutine's frame
 * is prepared by coro.c with x19 = the coroutine, x20 = its entry function,
 * x29 = 0 and x30 = coro_trampoline.
 */
    .text
    .globl coro_switch
    .hidden coro_switch
    .type coro_switch, %function
    .p2align 4
coro_switch:
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mov x9, sp              /* x9: a scratch register; w2 still holds value */
    str x9, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    mov w0, w2
    ret
    .size coro_switch, .-coro_switch

    .globl coro_trampoline
    .hidden coro_trampoline
    .type coro_trampoline, %function
    .p2align 4
coro_trampoline:
    mov x0, x19
    blr x20
    brk #0
    .size coro_trampoline, .-coro_trampoline

    .section .note.GNU-stack, "", %progbits
