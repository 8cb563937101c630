/*
 * ProcessPrng for wine 8.0, which has no bcryptprimitives.dll: Rust's standard library
 * (1.78 and later) imports it for its random numbers (HashMap's keys). Placed beside the
 * test binaries under wine only; real Windows has its own. Implemented over RtlGenRandom
 * (advapi32's SystemFunction036), in chunks of its ULONG length.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
