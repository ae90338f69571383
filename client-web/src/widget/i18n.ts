/** Every string the shopper sees, in the three supported languages. */
export type Lang = 'es' | 'pl' | 'en';
export const LANGS: Lang[] = ['es', 'pl', 'en'];

const en = {
  openChat: 'Open chat',
  closePanel: 'Minimise chat',
  title: 'Customer support',
  subtitleIdle: 'We usually reply in a few minutes',
  waiting: 'An agent will be with you shortly',
  greeting: 'Hi! How can we help you today?',
  nameLabel: 'Your name (optional)',
  namePlaceholder: 'e.g. Ana',
  inputPlaceholder: 'Write a message…',
  inputLabel: 'Message',
  send: 'Send',
  queued: (pos: number) => `You are number ${pos} in the queue`,
  waitLessMinute: 'Estimated wait: less than a minute',
  waitMinutes: (m: number) => `Estimated wait: about ${m} min`,
  assigned: (name: string) => `You are chatting with ${name}`,
  agentFallback: 'an agent',
  typing: (name: string) => `${name} is typing…`,
  pending: 'Sending…',
  sent: 'Sent',
  read: 'Read',
  failed: 'Not sent',
  retry: 'Retry',
  closed: 'This conversation has ended.',
  newChat: 'Start a new chat',
  endChat: 'End chat',
  reconnecting: 'Connection lost. Reconnecting…',
  connecting: 'Connecting…',
  you: 'You',
  unread: (n: number) => `${n} unread message${n === 1 ? '' : 's'}`,
  poweredBy: 'Chat by Calma',
  tooLong: 'The message is too long.',
  rateLimited: 'Slow down a little — we will send it in a moment.',
  storeDown: 'We could not save your message yet. Retrying…',
};

export type Strings = typeof en;

const es: Strings = {
  openChat: 'Abrir chat',
  closePanel: 'Minimizar chat',
  title: 'Atención al cliente',
  subtitleIdle: 'Solemos responder en pocos minutos',
  waiting: 'Enseguida te atiende un agente',
  greeting: '¡Hola! ¿En qué podemos ayudarte hoy?',
  nameLabel: 'Tu nombre (opcional)',
  namePlaceholder: 'p. ej. Ana',
  inputPlaceholder: 'Escribe un mensaje…',
  inputLabel: 'Mensaje',
  send: 'Enviar',
  queued: (pos) => `Eres el número ${pos} en la cola`,
  waitLessMinute: 'Espera estimada: menos de un minuto',
  waitMinutes: (m) => `Espera estimada: unos ${m} min`,
  assigned: (name) => `Estás hablando con ${name}`,
  agentFallback: 'un agente',
  typing: (name) => `${name} está escribiendo…`,
  pending: 'Enviando…',
  sent: 'Enviado',
  read: 'Leído',
  failed: 'No enviado',
  retry: 'Reintentar',
  closed: 'Esta conversación ha terminado.',
  newChat: 'Iniciar un nuevo chat',
  endChat: 'Terminar chat',
  reconnecting: 'Conexión perdida. Reconectando…',
  connecting: 'Conectando…',
  you: 'Tú',
  unread: (n) => `${n} mensaje${n === 1 ? '' : 's'} sin leer`,
  poweredBy: 'Chat de Calma',
  tooLong: 'El mensaje es demasiado largo.',
  rateLimited: 'Un momento, lo enviaremos enseguida.',
  storeDown: 'Aún no pudimos guardar tu mensaje. Reintentando…',
};

const pl: Strings = {
  openChat: 'Otwórz czat',
  closePanel: 'Zminimalizuj czat',
  title: 'Obsługa klienta',
  subtitleIdle: 'Zwykle odpowiadamy w kilka minut',
  waiting: 'Konsultant zaraz się odezwie',
  greeting: 'Dzień dobry! W czym możemy pomóc?',
  nameLabel: 'Twoje imię (opcjonalnie)',
  namePlaceholder: 'np. Anna',
  inputPlaceholder: 'Napisz wiadomość…',
  inputLabel: 'Wiadomość',
  send: 'Wyślij',
  queued: (pos) => `Jesteś ${pos}. w kolejce`,
  waitLessMinute: 'Szacowany czas oczekiwania: poniżej minuty',
  waitMinutes: (m) => `Szacowany czas oczekiwania: ok. ${m} min`,
  assigned: (name) => `Rozmawiasz z: ${name}`,
  agentFallback: 'konsultant',
  typing: (name) => `${name} pisze…`,
  pending: 'Wysyłanie…',
  sent: 'Wysłano',
  read: 'Przeczytano',
  failed: 'Nie wysłano',
  retry: 'Ponów',
  closed: 'Ta rozmowa została zakończona.',
  newChat: 'Rozpocznij nowy czat',
  endChat: 'Zakończ czat',
  reconnecting: 'Utracono połączenie. Łączenie ponownie…',
  connecting: 'Łączenie…',
  you: 'Ty',
  unread: (n) => `Nieprzeczytane wiadomości: ${n}`,
  poweredBy: 'Czat Calma',
  tooLong: 'Wiadomość jest za długa.',
  rateLimited: 'Chwileczkę — wyślemy ją za moment.',
  storeDown: 'Nie udało się jeszcze zapisać wiadomości. Ponawiamy…',
};

export const STRINGS: Record<Lang, Strings> = { en, es, pl };

/** data-lang wins; else the browser's language; else English. */
export function pickLang(attr: string | null | undefined, navigatorLangs: readonly string[] = []): Lang {
  const candidates = [attr, ...navigatorLangs].filter(Boolean) as string[];
  for (const c of candidates) {
    const base = c.toLowerCase().split(/[-_]/)[0] as Lang;
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}
