import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from 'react';
import { catalogues, type Lang, type MessageKey } from './catalogue.ts';

export type { MessageKey };
type T = (key: MessageKey, vars?: Record<string, string | number>) => string;

const I18n = createContext<{ lang: Lang; t: T; toggle(): void }>({
  lang: 'en',
  t: (k) => k,
  toggle: () => {},
});

function initialLang(): Lang {
  const saved = localStorage.getItem('custodian.lang');
  if (saved === 'en' || saved === 'zh') return saved;
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLang] = useState<Lang>(initialLang);
  const t = useCallback<T>(
    (key, vars) => {
      let s: string = catalogues[lang][key] ?? key;
      for (const [k, v] of Object.entries(vars ?? {})) s = s.replace(`{${k}}`, String(v));
      return s;
    },
    [lang],
  );
  const value = useMemo(
    () => ({
      lang,
      t,
      toggle: () => {
        const next: Lang = lang === 'en' ? 'zh' : 'en';
        localStorage.setItem('custodian.lang', next);
        document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
        setLang(next);
      },
    }),
    [lang, t],
  );
  return <I18n.Provider value={value}>{children}</I18n.Provider>;
}

export const useI18n = () => useContext(I18n);
