/* A test-only stand-in for Windows' bcryptprimitives.dll, which wine 8.0 does not ship: Rust's
 * standard library (1.78 and later) asks it for random bytes through ProcessPrng, so without it
 * no Rust .exe starts under that wine. This one answers from RtlGenRandom (advapi32's
 * SystemFunction036), which wine has. Real Windows has the real DLL; release archives never hold
 * this one. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
