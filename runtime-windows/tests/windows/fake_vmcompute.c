/*
 * A fake vmcompute.dll with NameToGuid(PCWSTR name, GUID *guid), for ComputeCore::layer_id
 * under wine. The GUID is made from the name so the tests can check it: Data1 is the
 * name's length, Data2 0x1234, Data3 0x5678, Data4 the first 8 characters (their low
 * bytes, zero-padded). An empty name or "fail" gives E_INVALIDARG.
 */
#include <windows.h>

__declspec(dllexport) HRESULT WINAPI NameToGuid(PCWSTR name, GUID *guid) {
    if (!name || !guid || !name[0] || lstrcmpW(name, L"fail") == 0) return E_INVALIDARG;
    int len = lstrlenW(name);
    guid->Data1 = (unsigned long)len;
    guid->Data2 = 0x1234;
    guid->Data3 = 0x5678;
    for (int i = 0; i < 8; i++) guid->Data4[i] = i < len ? (unsigned char)name[i] : 0;
    return S_OK;
}
