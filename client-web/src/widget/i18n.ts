/** Every string the shopper sees, in the three supported languages. */
export type Lang = 'es' | 'pl' | 'en';
export const LANGS: Lang[] = ['es', 'pl', 'en'];

/** The store's next opening, already formatted with Intl in the shopper's locale. */
export interface OpenAt {
  /** weekday name as Intl gives it (nominative, lower case in es/pl) */
  weekday: string;
  /** 1 = Monday … 7 = Sunday, in the store's time zone */
  day: number;
  /** e.g. "8:00" or "8:00 AM" */
  time: string;
  hour: number;
  /** "5 January" when the opening is more than 6 days away, else null */
  date: string | null;
  today: boolean;
  tomorrow: boolean;
  /** IANA time zone of the store, e.g. "Europe/Warsaw" */
  tz: string;
}

/** Polish: "w" + accusative ("w środę", "we wtorek") from Intl's nominative weekday. */
function plOnDay(weekday: string): string {
  const acc = weekday.replace(/a$/, 'ę');
  return (/^wt/i.test(acc) ? 'we ' : 'w ') + acc;
}

const en = {
  openChat: 'Open chat',
  closePanel: 'Minimise chat',
  title: 'Customer support',
  subtitleIdle: 'We usually answer within minutes',
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
  // v1.1: opening hours, offline contact
  openUntil: (time: string) => `Open now, until ${time}`,
  closedNow: 'We’re closed now.',
  opensAt: (p: OpenAt) =>
    p.today
      ? `We open today at ${p.time} (${p.tz}).`
      : p.tomorrow
        ? `We open tomorrow, ${p.weekday}, at ${p.time} (${p.tz}).`
        : `We open on ${p.weekday}${p.date ? ', ' + p.date : ''} at ${p.time} (${p.tz}).`,
  closedShort: 'Closed now',
  noAgents: 'We’re within opening hours, but nobody from the team is online right now.',
  noAgentsShort: 'Nobody online right now',
  hoursTitle: 'Opening hours',
  hoursClosedDay: 'Closed',
  hoursTz: (tz: string) => `Time zone: ${tz}`,
  hoursNone: 'No opening hours are set at the moment.',
  hoursClosedDates: (dates: string) => `Also closed on ${dates}.`,
  contactTitle: 'Leave us your contact details',
  contactIntro: 'We’ll get back to you as soon as we can. An e-mail or a phone number is enough.',
  emailLabel: 'E-mail',
  emailPlaceholder: 'name@example.com',
  phoneLabel: 'Phone',
  phonePlaceholder: '+44 20 7946 0000',
  noteLabel: 'Note (optional)',
  noteLabelRequired: 'What is it about?',
  contactSubmit: 'Send my details',
  contactSending: 'Sending…',
  errNeedOne: 'Enter an e-mail address or a phone number.',
  errEmail: 'This e-mail address doesn’t look right (e.g. name@example.com).',
  errPhone: 'Enter a phone number: 6 to 32 digits, spaces or + - ( ) .',
  errNoteLong: 'The note is too long (500 bytes at most).',
  errNoteRequired: 'Tell us briefly what it’s about.',
  errContactSend: 'We couldn’t send your details. Please try again.',
  contactThanks: (email: string | null, phone: string | null) =>
    `Thank you! We’ll get back to you at ${[email, phone].filter(Boolean).join(' or ')}.`,
  contactThanksMore: 'If someone from the team comes online sooner, they’ll answer you right here.',
  contactChange: 'Change my details',
  // Issue 9: the rating (CSAT) after the conversation
  ratingTitle: 'How was your chat?',
  ratingOption: (n: number) => `${n} of 5 — ${['very bad', 'bad', 'okay', 'good', 'excellent'][n - 1]}`,
  ratingLow: 'Very bad',
  ratingHigh: 'Excellent',
  ratingCommentLabel: 'Anything you’d like to add? (optional)',
  ratingCommentPlaceholder: 'What went well, what could we do better…',
  ratingSend: 'Send',
  ratingSkip: 'Skip comment',
  ratingSending: 'Sending…',
  ratingThanks: 'Thank you for your rating!',
  ratingThanksMore: 'It helps us improve.',
  ratingError: 'We couldn’t send your rating. Please try again.',
  ratingCommentLong: 'Your comment is too long (500 bytes at most).',
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
  openUntil: (time) => `Abierto ahora, hasta las ${time}`,
  closedNow: 'Ahora estamos cerrados.',
  opensAt: (p) => {
    const at = `a la${p.hour === 1 ? '' : 's'} ${p.time}`;
    return p.today
      ? `Abrimos hoy ${at} (${p.tz}).`
      : p.tomorrow
        ? `Abrimos mañana, ${p.weekday}, ${at} (${p.tz}).`
        : `Abrimos el ${p.weekday}${p.date ? ' ' + p.date : ''} ${at} (${p.tz}).`;
  },
  closedShort: 'Ahora cerrado',
  noAgents: 'Estamos en horario de atención, pero ahora mismo no hay nadie del equipo conectado.',
  noAgentsShort: 'Nadie conectado ahora',
  hoursTitle: 'Horario de atención',
  hoursClosedDay: 'Cerrado',
  hoursTz: (tz) => `Zona horaria: ${tz}`,
  hoursNone: 'Por ahora no hay horario de atención.',
  hoursClosedDates: (dates) => `También cerrado: ${dates}.`,
  contactTitle: 'Déjanos tus datos de contacto',
  contactIntro: 'Te responderemos lo antes posible. Basta con un correo o un teléfono.',
  emailLabel: 'Correo electrónico',
  emailPlaceholder: 'nombre@ejemplo.com',
  phoneLabel: 'Teléfono',
  phonePlaceholder: '+34 600 000 000',
  noteLabel: 'Nota (opcional)',
  noteLabelRequired: '¿En qué podemos ayudarte?',
  contactSubmit: 'Enviar mis datos',
  contactSending: 'Enviando…',
  errNeedOne: 'Escribe un correo electrónico o un número de teléfono.',
  errEmail: 'Este correo no parece válido (por ejemplo: nombre@ejemplo.com).',
  errPhone: 'Escribe un teléfono: de 6 a 32 cifras, espacios o + - ( ) .',
  errNoteLong: 'La nota es demasiado larga (500 bytes como máximo).',
  errNoteRequired: 'Cuéntanos brevemente de qué se trata.',
  errContactSend: 'No pudimos enviar tus datos. Inténtalo de nuevo.',
  contactThanks: (email, phone) =>
    email && phone
      ? `¡Gracias! Te escribiremos a ${email} o te llamaremos al ${phone}.`
      : email
        ? `¡Gracias! Te escribiremos a ${email}.`
        : `¡Gracias! Te llamaremos al ${phone}.`,
  contactThanksMore: 'Si alguien del equipo se conecta antes, te responderá aquí mismo.',
  contactChange: 'Cambiar mis datos',
  ratingTitle: '¿Qué tal ha ido el chat?',
  ratingOption: (n) => `${n} de 5 — ${['muy malo', 'malo', 'regular', 'bueno', 'excelente'][n - 1]}`,
  ratingLow: 'Muy malo',
  ratingHigh: 'Excelente',
  ratingCommentLabel: '¿Quieres añadir algo? (opcional)',
  ratingCommentPlaceholder: 'Qué te ha gustado, qué podemos mejorar…',
  ratingSend: 'Enviar',
  ratingSkip: 'Omitir comentario',
  ratingSending: 'Enviando…',
  ratingThanks: '¡Gracias por tu valoración!',
  ratingThanksMore: 'Nos ayuda a mejorar.',
  ratingError: 'No pudimos enviar tu valoración. Inténtalo de nuevo.',
  ratingCommentLong: 'El comentario es demasiado largo (500 bytes como máximo).',
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
  openUntil: (time) => `Teraz otwarte, do ${time}`,
  closedNow: 'Jesteśmy teraz zamknięci.',
  opensAt: (p) =>
    p.today
      ? `Otwieramy dziś o ${p.time} (${p.tz}).`
      : p.tomorrow
        ? `Otwieramy jutro, ${plOnDay(p.weekday)}, o ${p.time} (${p.tz}).`
        : `Otwieramy ${plOnDay(p.weekday)}${p.date ? ' ' + p.date : ''} o ${p.time} (${p.tz}).`,
  closedShort: 'Teraz nieczynne',
  noAgents: 'Jesteśmy w godzinach pracy, ale nikt z zespołu nie jest teraz dostępny.',
  noAgentsShort: 'Nikt nie jest teraz dostępny',
  hoursTitle: 'Godziny otwarcia',
  hoursClosedDay: 'nieczynne',
  hoursTz: (tz) => `Strefa czasowa: ${tz}`,
  hoursNone: 'Obecnie nie mamy ustalonych godzin otwarcia.',
  hoursClosedDates: (dates) => `Nieczynne także: ${dates}.`,
  contactTitle: 'Zostaw nam dane kontaktowe',
  contactIntro: 'Odezwiemy się najszybciej, jak to możliwe. Wystarczy e-mail lub numer telefonu.',
  emailLabel: 'E-mail',
  emailPlaceholder: 'imie@przyklad.pl',
  phoneLabel: 'Telefon',
  phonePlaceholder: '+48 600 000 000',
  noteLabel: 'Wiadomość (opcjonalnie)',
  noteLabelRequired: 'W jakiej sprawie piszesz?',
  contactSubmit: 'Wyślij dane kontaktowe',
  contactSending: 'Wysyłanie…',
  errNeedOne: 'Podaj adres e-mail lub numer telefonu.',
  errEmail: 'Ten adres e-mail wygląda na niepoprawny (np. imie@przyklad.pl).',
  errPhone: 'Podaj numer telefonu: od 6 do 32 cyfr, spacji lub znaków + - ( ) .',
  errNoteLong: 'Wiadomość jest za długa (maksymalnie 500 bajtów).',
  errNoteRequired: 'Napisz krótko, w jakiej sprawie piszesz.',
  errContactSend: 'Nie udało się wysłać danych. Spróbuj ponownie.',
  contactThanks: (email, phone) =>
    email && phone
      ? `Dziękujemy! Odezwiemy się na adres ${email} lub pod numer ${phone}.`
      : email
        ? `Dziękujemy! Odpowiemy na adres ${email}.`
        : `Dziękujemy! Oddzwonimy pod numer ${phone}.`,
  contactThanksMore: 'Jeśli ktoś z zespołu pojawi się wcześniej, odpowie tutaj.',
  contactChange: 'Zmień dane kontaktowe',
  ratingTitle: 'Jak oceniasz tę rozmowę?',
  ratingOption: (n) => `${n} z 5 — ${['bardzo źle', 'źle', 'przeciętnie', 'dobrze', 'bardzo dobrze'][n - 1]}`,
  ratingLow: 'Bardzo źle',
  ratingHigh: 'Bardzo dobrze',
  ratingCommentLabel: 'Chcesz coś dodać? (opcjonalnie)',
  ratingCommentPlaceholder: 'Co było dobrze, co możemy poprawić…',
  ratingSend: 'Wyślij',
  ratingSkip: 'Pomiń komentarz',
  ratingSending: 'Wysyłanie…',
  ratingThanks: 'Dziękujemy za ocenę!',
  ratingThanksMore: 'Dzięki temu możemy działać lepiej.',
  ratingError: 'Nie udało się wysłać oceny. Spróbuj ponownie.',
  ratingCommentLong: 'Komentarz jest za długi (maksymalnie 500 bajtów).',
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
